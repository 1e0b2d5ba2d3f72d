"""Add user by invitation end to end in a real browser, the email through a
real SMTP server (aiosmtpd): the admin invites (with "Confirm it's you"), the
newcomer opens the emailed link, sets a password, lands on the MFA setup their
firm requires, sets it up and is signed in."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import mfa_support
from tests.browser.conftest import browser_page, browser_sign_in, wait_for_htmx
from tests.jobs import conftest as jobs_world
from tests.jobs.conftest import wait_until
from webapp.models import System

clock = mfa_support.clock  # the fixtures, under their own names
smtp = jobs_world.smtp
NEW_PASSWORD = "four quiet harbour lamps at dusk"  # noqa: S105
LINK = re.compile(r"https?://[^/\s]+(/invitation/[A-Za-z0-9_-]+)")


@pytest.fixture
def app_overrides(smtp):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}


def test_invite_link_password_mfa_setup_signed_in(
    app, browser, live_server, page, factory, session, smtp, clock
):
    firm = factory.system(name="Strict Law")
    ann = factory.user(firm, "ann@strict.example", "Ann Admin", admin=True)
    mfa_support.enable_mfa(app, session, ann)
    system = session.get(System, firm.id)
    system.mfa_required = True
    session.add(system)
    session.commit()

    browser_sign_in(page, "ann@strict.example")
    page.get_by_label("Verification code").fill(clock.code())
    page.get_by_role("button", name="Verify").click()
    page.goto("/admin/users")
    wait_for_htmx(page)
    page.get_by_role("link", name="Add user").click()
    dialog = page.get_by_role("dialog", name="Add user")
    dialog.get_by_label("Email").fill("nia@strict.example")
    dialog.get_by_label("Display name").fill("Nia Ngata")
    dialog.get_by_label("Role").select_option("user")
    dialog.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Confirm it's you")).to_be_visible()
    clock.advance(seconds=30)
    page.get_by_label("Authentication code").fill(clock.code())
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Invitation sent to nia@strict.example.")).to_be_visible()
    row = page.locator("tr", has_text="nia@strict.example")
    expect(row).to_contain_text("Invited")
    expect(row.get_by_role("button", name="Resend invitation")).to_be_visible()
    expect(row.get_by_role("button", name="Revoke invitation")).to_be_visible()

    wait_until(lambda: smtp.handler.messages, what="the invitation email")
    [(recipients, message)] = smtp.handler.messages
    assert recipients == ["nia@strict.example"]
    text = message.get_body(("plain",)).get_content()
    assert "Set your password" in text and "7 days" in text
    path = LINK.search(text).group(1)

    with browser_page(browser, live_server, allowed=(410, 422)) as newcomer:
        newcomer.goto(path)
        expect(newcomer.get_by_role("heading", name="Set your password")).to_be_visible()
        newcomer.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        newcomer.get_by_label("Confirm new password").fill(NEW_PASSWORD)
        newcomer.get_by_role("button", name="Set password").click()
        expect(
            newcomer.get_by_text("Strict Law requires multi-factor authentication")
        ).to_be_visible()
        newcomer.get_by_role("button", name="Activate").click()
        newcomer.get_by_role("button", name="Show secret key").click()
        secret = newcomer.locator("#secret-key-value").inner_text().replace(" ", "")
        newcomer.get_by_label("First code").fill(clock.code(secret))
        newcomer.get_by_label("Second code").fill(clock.code(secret, steps=1))
        newcomer.get_by_role("button", name="Save").click()
        expect(newcomer.get_by_text("Multi-factor authentication is now enabled")).to_be_visible()
        newcomer.goto("/profile")
        expect(newcomer.get_by_role("heading", name="My Profile")).to_be_visible()
        # The link was used up.
        newcomer.goto(path)
        expect(newcomer.get_by_text("This invitation has expired")).to_be_visible()
