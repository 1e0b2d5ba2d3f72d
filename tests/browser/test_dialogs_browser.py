"""The article's windows as modal dialogs, at 1280, 390 and 320 px, by keyboard:
focus moves in and stays in, Escape and Cancel close without a page load and
give focus back, a rejected code keeps the window as it was, Deactivate is
confirmed by a dangerous-looking button, and Edit user opens over the users list
without losing its filter or scroll (its MFA reset asking "Confirm it's you" in
place first). Without JavaScript each is a page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import mfa_support
from tests.browser.conftest import (
    HEIGHTS,
    WIDTHS,
    browser_page,
    browser_sign_in,
    page_width,
    wait_for_htmx,
)
from tests.browser.test_pages_browser import make_firm, sign_in_with_code

clock = mfa_support.clock  # the fixture, under its own name

FOCUS_IN_DIALOG = "() => document.querySelector('dialog:modal').contains(document.activeElement)"


def mark_page(page) -> None:
    wait_for_htmx(page)
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def assert_tab_stays_inside(page, presses: int = 16) -> None:
    for key in ["Tab"] * presses + ["Shift+Tab"] * presses:
        page.keyboard.press(key)
        assert page.evaluate(FOCUS_IN_DIALOG), f"{key} left the dialog"


def assert_fits(page, width: int) -> None:
    assert page_width(page) <= width, f"{page_width(page)}px wide in a {width}px screen"


@pytest.fixture(params=WIDTHS, ids=[f"{width}px" for width in WIDTHS])
def width(request) -> int:
    return request.param


@pytest.fixture
def page(browser, site, width):
    with browser_page(browser, site.url, width, HEIGHTS[width]) as new_page:
        yield new_page


def test_enrol_in_the_setup_window(site, page, width, clock):
    _, people = make_firm(site)
    browser_sign_in(page, people["zoe"].email)
    mark_page(page)
    activate = page.get_by_role("button", name="Activate")
    activate.focus()
    page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Set up multi-factor authentication (MFA)")
    expect(dialog).to_be_visible()
    expect(page.locator("dialog:modal")).to_have_count(1)
    assert page.evaluate(FOCUS_IN_DIALOG)
    assert_fits(page, width)
    for app in ("Microsoft Authenticator", "Google Authenticator", "Twilio Authy"):
        expect(dialog.get_by_text(app, exact=True)).to_be_visible()
    store = dialog.get_by_role("link", name=re.compile("Google Play – Google Authenticator"))
    expect(store).to_have_attribute("target", "_blank")
    expect(store).to_have_attribute("rel", "noopener")
    expect(dialog.get_by_text("not an official endorsement")).to_be_visible()
    assert_tab_stays_inside(page)

    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(activate).to_be_focused()
    assert_no_page_load(page)

    page.keyboard.press("Enter")  # reopen: the same pending key
    expect(dialog).to_be_visible()
    qr = dialog.locator(".qr svg").inner_html()
    dialog.get_by_role("button", name="Show secret key").click()
    key = dialog.locator("#secret-key-value")
    expect(key).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    expect(page.locator("#secret-key-text")).to_be_focused()  # not sent to the top
    secret = key.inner_text().replace(" ", "")
    assert_fits(page, width)

    # Only the second code wrong: the window stays as it was, the first code kept.
    first = clock.code(secret)
    dialog.get_by_label("First code").fill(first)
    dialog.get_by_label("Second code").fill(first)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_text("The two codes are the same.")).to_be_visible()
    expect(key).to_have_text(re.compile(secret[:4]))
    assert dialog.locator(".qr svg").inner_html() == qr
    expect(dialog.get_by_label("First code")).to_have_value(first)
    expect(dialog.get_by_label("Second code")).to_have_value("")
    expect(dialog.get_by_label("Second code")).to_be_focused()
    assert_no_page_load(page)

    page.keyboard.type(clock.code(secret, steps=1))
    page.keyboard.press("Enter")
    expect(dialog.get_by_text("Multi-factor authentication is now enabled")).to_be_focused()
    expect(dialog.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    expect(page.locator("#mfa-row")).to_contain_text("Enabled")  # behind the dialog
    assert_fits(page, width)
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("button", name="Recovery codes")).to_be_focused()
    assert_no_page_load(page)


def test_deactivate_is_confirmed_as_a_dangerous_action(site, page, width, clock):
    _, people = make_firm(site)
    sign_in_with_code(page, clock, people["jose"].email)
    mark_page(page)
    deactivate = page.get_by_role("button", name="Deactivate")
    deactivate.click()
    dialog = page.get_by_role("dialog", name="Deactivate multi-factor authentication")
    expect(dialog.get_by_label("Authentication code")).to_be_focused()
    confirm = dialog.get_by_role("button", name="Turn off multi-factor authentication")
    expect(confirm).to_have_class("danger")
    expect(confirm).to_have_css("background-color", "rgb(179, 38, 30)")
    assert_fits(page, width)
    assert_tab_stays_inside(page, presses=6)

    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(deactivate).to_be_focused()
    assert_no_page_load(page)

    deactivate.click()
    dialog.get_by_label("Authentication code").fill("123")
    confirm.click()
    expect(dialog.get_by_text("The code has 6 digits.")).to_be_visible()
    expect(dialog.get_by_label("Authentication code")).to_be_focused()
    dialog.get_by_label("Authentication code").fill(clock.code())
    confirm.click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_text("Multi-factor authentication is now off.")).to_be_visible()
    expect(page.locator("#mfa-row")).to_contain_text("Not configured")
    expect(page.get_by_role("button", name="Activate")).to_be_focused()
    assert_no_page_load(page)


def test_edit_user_opens_over_the_list_and_keeps_its_filter_and_scroll(site, page, width, clock):
    firm, people = make_firm(site)
    for number in range(24):
        site.factory.user(firm, site.unique("staff@harbour.example"), f"Bea Staff {number:02d}")
    sign_in_with_code(page, clock, people["admin"].email)
    page.goto("/admin/users")
    mark_page(page)
    page.get_by_label("Role").select_option("user")
    expect(page).to_have_url(re.compile(r"/admin/users\?role=user$"))
    row = page.get_by_role("row", name=re.compile("José Álvarez"))
    edit = row.get_by_role("link", name="Edit")
    edit.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 40)")
    assert page.evaluate("window.scrollY") > 0
    on_screen = edit.bounding_box()["y"]
    expect(page.get_by_label("List view")).to_have_value("role=user")  # "Custom"

    edit.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Edit user")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("José Álvarez")
    assert page.evaluate(FOCUS_IN_DIALOG)
    assert_fits(page, width)
    assert_tab_stays_inside(page, presses=8)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(edit).to_be_focused()

    page.keyboard.press("Enter")
    dialog.get_by_label("MFA Enabled").uncheck()
    dialog.get_by_role("button", name="Save").click()
    # A reset is sensitive: "Confirm it's you" in place, in the dialog; after
    # the code, the Save it held back is carried out (here: the billing terms).
    expect(dialog.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(dialog.get_by_label("Authentication code")).to_be_focused()
    dialog.get_by_label("Authentication code").fill(clock.code(mfa_support.SECRET))
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog.get_by_text("To turn MFA off, select")).to_be_visible()
    dialog.get_by_label("I accept the billing changes and understand the terms of use").check()
    dialog.get_by_role("button", name="Save").click()

    expect(dialog).to_have_count(0)
    expect(
        page.get_by_text(
            "José Álvarez's MFA was reset: they were signed out everywhere "
            "and emailed to set it up again."
        )
    ).to_be_visible()
    expect(row.get_by_role("img", name="MFA not enabled")).to_be_visible()
    expect(edit).to_be_focused()
    expect(page).to_have_url(re.compile(r"/admin/users\?role=user$"))
    expect(page.get_by_label("Role")).to_have_value("user")
    # The list did not jump: the row is where it was on the screen.
    assert abs(edit.bounding_box()["y"] - on_screen) <= 1
    assert_no_page_load(page)


def test_without_javascript_each_window_is_a_page(browser, site, clock):
    _, people = make_firm(site)
    context = browser.new_context(base_url=site.url, java_script_enabled=False)
    page = context.new_page()
    try:
        browser_sign_in(page, people["zoe"].email)
        page.get_by_role("button", name="Activate").click()
        expect(page).to_have_url(re.compile("/profile/mfa/setup$"))
        dialog = page.get_by_role("dialog", name="Set up multi-factor authentication (MFA)")
        page.get_by_role("button", name="Show secret key").click()
        secret = dialog.locator("#secret-key-value").inner_text().replace(" ", "")
        first = clock.code(secret)
        dialog.get_by_label("First code").fill(first)
        dialog.get_by_label("Second code").fill("000000" if first != "000000" else "111111")
        dialog.get_by_role("button", name="Save").click()
        # A rejected code keeps the key shown, without JavaScript too.
        expect(dialog.get_by_text("the second is not the code that came next")).to_be_visible()
        expect(dialog.locator("#secret-key-value")).to_be_visible()
        expect(dialog.get_by_label("First code")).to_have_value(first)
        dialog.get_by_label("Second code").fill(clock.code(secret, steps=1))
        dialog.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Multi-factor authentication is now enabled")).to_be_visible()
        page.get_by_role("link", name="Done").click()
        expect(page).to_have_url(re.compile("/profile$"))
    finally:
        context.close()


def test_an_error_behind_an_open_dialog_is_shown_not_hidden(browser, site, clock):
    _, people = make_firm(site)
    with browser_page(browser, site.url, allowed=(400,)) as page:
        sign_in_with_code(page, clock, people["admin"].email)
        page.goto("/admin/users")
        mark_page(page)
        page.get_by_role("row", name=re.compile("Zoë Brown")).get_by_role(
            "link", name="Edit"
        ).click()
        dialog = page.get_by_role("dialog", name="Edit user")
        expect(dialog).to_be_visible()
        page.context.clear_cookies()  # the session (and its CSRF token) is gone
        dialog.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Your form expired")).to_be_visible()
        expect(page.locator("dialog")).to_have_count(0)
        assert_no_page_load(page)
