"""Every page and every open dialog, as people see them: axe-core finds no WCAG 2.2
A/AA violation at 1280 and 390 px, and nothing is wider than a 320 px screen.

The pages share one app and server (they read; each test makes users of its own).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests import mfa_support
from tests.browser.conftest import browser_page, browser_sign_in, check_page, wait_for_htmx
from tests.mfa_support import SECRET, enable_mfa
from webapp.models import AdoptionSnapshot, AuditEvent, System, User

clock = mfa_support.clock  # the fixture, under its own name


def make_firm(site, name="Harbour & Quay Law", **system):
    """A firm with an admin (MFA on), José (MFA on) and Zoë (no MFA)."""
    firm = site.factory.system(name=site.unique_name(name), **system)
    people = {
        "admin": site.factory.user(
            firm, site.unique("ann.administrator@harbourquay.example"), "Ann Admin", admin=True
        ),
        "jose": site.factory.user(firm, site.unique("jose@harbour.example"), "José Álvarez"),
        "zoe": site.factory.user(firm, site.unique("zoe@harbour.example"), "Zoë Brown"),
    }
    with site.session() as session:
        for key in ("admin", "jose"):
            enable_mfa(site.app, session, people[key])
    return firm, people


def sign_in_with_code(page, clock, email) -> None:
    browser_sign_in(page, email)
    page.get_by_label("Verification code").fill(clock.code(SECRET))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    clock.advance(seconds=30)  # the next code is a fresh one


def open_dialog(page, button: str, title: str):
    wait_for_htmx(page)
    page.get_by_role("button", name=button).click()
    dialog = page.locator("dialog:modal")
    expect(dialog).to_have_accessible_name(title)
    return dialog


def close_dialog(page) -> None:
    page.keyboard.press("Escape")
    expect(page.locator("dialog")).to_have_count(0)


def test_signed_out_pages(browser, site):
    with browser_page(browser, site.url, allowed=(404, 422)) as page:
        page.goto("/sign-in")
        check_page(page, "sign-in")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_text("Enter your email.")).to_be_visible()
        check_page(page, "sign-in with errors")
        page.goto("/no-such-page")
        check_page(page, "404 page")


def test_code_step_pages(site, site_page, clock):
    _, people = make_firm(site)
    page = site_page
    browser_sign_in(page, people["jose"].email)
    check_page(page, "verification code step")
    page.get_by_label("Verification code").fill("12")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("The code has 6 digits.")).to_be_visible()
    check_page(page, "verification code step with an error")
    page.get_by_role("link", name="Use a recovery code").click()
    check_page(page, "recovery code step")


def test_my_profile_and_its_dialogs(site, site_page, clock):
    _, people = make_firm(site)
    page = site_page
    browser_sign_in(page, people["zoe"].email)
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    check_page(page, "My Profile")

    dialog = open_dialog(page, "Activate", "Set up multi-factor authentication (MFA)")
    check_page(page, "setup dialog")
    dialog.get_by_role("button", name="Show secret key").click()
    expect(dialog.locator("#secret-key-value")).to_be_visible()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("Enter the 6-digit code")).to_have_count(2)
    check_page(page, "setup dialog with errors and the key shown")
    close_dialog(page)

    page.goto("/profile/mfa/setup")
    check_page(page, "setup page (no JavaScript, bookmark)")
    page.get_by_role("button", name="Show secret key").click()
    secret = page.locator("#secret-key-value").inner_text().replace(" ", "")
    page.get_by_label("First code").fill(clock.code(secret))
    page.get_by_label("Second code").fill(clock.code(secret, steps=1))
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("list", name="Recovery codes")).to_be_visible()
    check_page(page, "recovery codes shown after setup")

    page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
    sign_in_with_code(page, clock, people["jose"].email)
    check_page(page, "My Profile with MFA on")
    open_dialog(page, "Deactivate", "Deactivate multi-factor authentication")
    check_page(page, "Deactivate dialog")
    close_dialog(page)
    open_dialog(page, "Recovery codes", "Recovery codes")
    check_page(page, "Recovery codes dialog")
    close_dialog(page)
    page.goto("/profile/mfa/deactivate")
    check_page(page, "Deactivate page")
    page.goto("/profile/mfa/recovery-codes")
    check_page(page, "Recovery codes page")


def test_the_sign_in_prompts_and_forced_enrolment(site, site_page):
    _, people = make_firm(site, country="NZ", accounting="xero")
    page = site_page
    browser_sign_in(page, people["zoe"].email)
    expect(page.get_by_role("button", name="Set up now")).to_be_visible()
    check_page(page, "compliance prompt")

    firm, forced = make_firm(site, name="Strict Law")
    with site.session() as session:
        system = session.get(System, firm.id)
        system.mfa_required = True
        session.add(system)
        session.commit()
    mere = site.factory.user(firm, site.unique("mere@harbour.example"), "Mere Tūhoe")
    with site.session() as session:
        mere = session.get(User, mere.id)
        mere.mfa_deadline = datetime.now(UTC) + timedelta(days=3)
        session.add(mere)
        session.commit()
    page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
    browser_sign_in(page, mere.email)
    expect(page.get_by_role("link", name="Remind me later")).to_be_visible()
    check_page(page, "prompt before the enrolment deadline")

    page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
    browser_sign_in(page, forced["zoe"].email)
    expect(page.get_by_text(f"{firm.name} requires multi-factor authentication")).to_be_visible()
    check_page(page, "forced enrolment")


def test_admin_pages_and_the_edit_user_dialog(site, site_page, clock):
    firm, people = make_firm(site)
    with site.session() as session:
        for number in range(3):
            session.add(
                AuditEvent(
                    system_id=firm.id,
                    action=["signin.mfa_failed", "mfa.reset_by_admin", "user.updated"][number],
                    actor_id=people["admin"].id,
                    subject_id=people["jose"].id,
                    details=[
                        {"where": "enrolment", "failures_in_a_row": 2},
                        {"billing_acknowledged": True, "admin_email": people["admin"].email},
                        {"changes": {"role": ["user", "admin"]}},
                    ][number],
                )
            )
        session.commit()
    page = site_page
    sign_in_with_code(page, clock, people["admin"].email)
    page.goto("/admin/users")
    check_page(page, "Users & permissions")
    wait_for_htmx(page)
    page.get_by_role("row", name="José Álvarez").get_by_role("link", name="Edit").click()
    dialog = page.locator("dialog:modal")
    expect(dialog).to_have_accessible_name("Edit user")
    check_page(page, "Edit user dialog")
    dialog.get_by_label("MFA Enabled").uncheck()
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    check_page(page, "Confirm it's you in the Edit user dialog")
    dialog.get_by_label("Authentication code").fill(clock.code(SECRET))
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_text("To turn MFA off, select")).to_be_visible()
    check_page(page, "Edit user dialog with an error")
    close_dialog(page)
    page.goto(f"/admin/users/{people['jose'].id}")
    check_page(page, "Edit user page")
    page.goto("/admin/security")
    check_page(page, "Security settings")
    page.goto("/admin/audit")
    expect(page.get_by_role("cell", name="MFA reset by an admin")).to_be_visible()
    check_page(page, "Audit log")


def test_the_first_page_is_small(site, site_page):
    sizes = []
    site_page.on("requestfinished", lambda request: sizes.append(request.sizes()))
    site_page.goto("/sign-in")
    wait_for_htmx(site_page)
    site_page.wait_for_load_state("networkidle")
    transferred = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    assert transferred < 100_000, f"the sign-in page loads {transferred} bytes"


def test_a_user_sees_their_own_name_in_the_toolbar(site, site_page):
    # (Kept small: the toolbar wraps at 320 px with a long name.)
    _, people = make_firm(site)
    with site.session() as session:
        user = session.get(User, people["zoe"].id)
        user.display_name = "Zoë Brown-Featherstonehaugh-Wolfeschlegelsteinhausen"
        session.add(user)
        session.commit()
    browser_sign_in(site_page, people["zoe"].email)
    check_page(site_page, "My Profile with a long name", widths=(320,))


def test_the_adoption_panel_and_its_reminders(site, site_page, clock):
    """The panel with 60 days of snapshots, enforcement marked, its table open;
    then "Send reminder" on a row, in place, twice."""
    firm, people = make_firm(site, name="Panel Law")
    today = datetime.now(UTC).astimezone(ZoneInfo(firm.timezone)).date()
    with site.session() as session:
        system = session.get(System, firm.id)
        system.mfa_required, system.mfa_grace_days = True, 14
        system.mfa_required_since = datetime.now(UTC) - timedelta(days=30)
        session.add(system)
        for ago in range(1, 61):
            mfa = 2 if ago < 20 else 1
            session.add(
                AdoptionSnapshot(
                    system_id=firm.id,
                    local_date=today - timedelta(days=ago),
                    active_users=3,
                    with_mfa=mfa,
                    with_app=mfa,
                    with_passkey=0,
                    with_sso=0,
                    without_mfa=3 - mfa,
                    past_deadline=0,
                )
            )
        session.commit()
    page = site_page
    sign_in_with_code(page, clock, people["admin"].email)
    page.goto("/admin/users")
    panel = page.get_by_role("region", name="MFA adoption")
    expect(panel.get_by_role("img", name="Users with MFA, last 90 days")).to_be_visible()
    check_page(page, "Users & permissions with the adoption panel")
    panel.get_by_text("Adoption by day (table)").click()
    expect(panel.get_by_role("cell", name="Today")).to_be_visible()
    check_page(page, "the adoption panel's table")

    wait_for_htmx(page)
    page.evaluate("window.__marker = 1")
    zoe = page.get_by_role("row", name=people["zoe"].display_name)
    zoe.get_by_role("button", name="Send reminder").click()
    expect(page.locator("#flash")).to_have_text("Reminder sent to Zoë Brown.")
    expect(zoe).to_contain_text("Reminded today")
    expect(zoe.get_by_role("button", name="Send reminder")).to_be_focused()
    zoe.get_by_role("button", name="Send reminder").click()
    expect(page.locator("#flash")).to_contain_text("Zoë Brown was already reminded today, at")
    assert page.evaluate("window.__marker") == 1  # no page load

    panel.get_by_role("link", name="Users without MFA").click()
    expect(page).to_have_url(re.compile(r"/admin/users\?mfa=off&active=yes"))
    expect(page.get_by_role("row", name=people["jose"].display_name)).to_have_count(0)


def test_import_users_preview_and_send(site, site_page, clock):
    """Import users in the browser: the upload page, the preview (a wide table
    that must still fit a phone), "Send invitations", "Confirm it's you" as a
    page, and the invited people in the list."""
    firm, people = make_firm(site)
    new_one, new_two = site.unique("tama@harbour.example"), site.unique("kiri@harbour.example")
    csv = (
        "email,display name,role\n"
        f"{new_one},Tama Ngata,User\n"
        f"{new_two},Kiri Te Kanawa-Whakaaturanga,Admin\n"
        f"{people['zoe'].email},Zoë Brown,User\n"
        "not an email,Somebody,User\n"
    )
    page = site_page
    sign_in_with_code(page, clock, people["admin"].email)
    page.goto("/admin/users")
    page.get_by_role("link", name="Import users").click()
    check_page(page, "Import users")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.locator("#import-summary")).to_have_text("4 rows: 2 new, 1 already exists, 1 invalid.")
    expect(page.get_by_role("row", name=re.compile("Kiri Te Kanawa"))).to_contain_text("New")
    check_page(page, "Import users preview")
    page.get_by_role("button", name="Send invitations").click()
    page.get_by_label("Authentication code").fill(clock.code(SECRET))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Invitations sent to 2 people.")).to_be_visible()
    page.get_by_label("Search users").fill("Kiri")
    expect(page.get_by_role("row", name=re.compile("Kiri Te Kanawa"))).to_contain_text("Invited")
