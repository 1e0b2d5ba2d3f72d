"""Forgot password and Change password in a real browser (htmx, dialogs, CSP)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import mfa_support
from tests.browser.conftest import browser_page, browser_sign_in, check_page, wait_for_htmx
from tests.mfa_support import enable_mfa

clock = mfa_support.clock  # the fixture, under its own name

NEW_PASSWORD = "🌊 four quiet harbour lamps"  # noqa: S105
CHANGED_PASSWORD = "seven slow kererū at dusk"  # noqa: S105
LINK = re.compile(r"(/password/reset/[A-Za-z0-9_-]+)")


def test_forgot_password_then_the_code_then_change_it_on_my_profile(
    app, page, factory, session, mailbox, clock
):
    user = factory.user(email="zoe@example.com", name="Zoë Brown")
    enable_mfa(app, session, user)
    page.goto("/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    check_page(page, "Forgot your password?")
    page.get_by_label("Email").fill("zoe@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_text("If an account uses that address")).to_be_visible()

    [email] = [m for m in mailbox() if m["Subject"] == "Reset your Firmguard password"]
    page.goto(LINK.search(email.get_body(("plain",)).get_content()).group(1))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("password1234")
    page.get_by_label("Confirm new password").fill("password1234")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("list of common or breached passwords")).to_be_visible()
    check_page(page, "Set a new password, with an error")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    expect(
        page.get_by_text("Your password was changed. Sign in with your new password.")
    ).to_be_visible()

    # Still the code step: the reset did not touch MFA.
    browser_sign_in(page, "zoe@example.com", NEW_PASSWORD)
    clock.advance(seconds=30)
    page.get_by_label("Verification code").fill(clock.code())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()

    # Change password in its dialog: "Confirm it's you" asks for a fresh code in place.
    page.get_by_role("button", name="Change password").click()
    dialog = page.get_by_role("dialog", name="Change password")
    check_page(page, "Change password dialog")
    dialog.get_by_label("Current password").fill(NEW_PASSWORD)
    dialog.get_by_label("New password", exact=True).fill(CHANGED_PASSWORD)
    dialog.get_by_label("Confirm new password").fill(CHANGED_PASSWORD)
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Confirm it's you")).to_be_visible()
    clock.advance(seconds=30)
    page.get_by_label("Authentication code").fill(clock.code())
    page.get_by_role("button", name="Confirm").click()
    expect(
        page.get_by_text("Your password was changed. You were signed out everywhere else.")
    ).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_signing_out_another_browser_from_where_youre_signed_in(
    browser, live_server, page, factory
):
    """Two browsers of one user: the first signs the second out (htmx, in
    place); the second is signed out at its next request."""
    factory.user(email="zoe@example.com", name="Zoë Brown")
    with browser_page(browser, live_server) as other:
        browser_sign_in(other, "zoe@example.com")
        expect(other.get_by_role("heading", name="My Profile")).to_be_visible()
        browser_sign_in(page, "zoe@example.com")
        wait_for_htmx(page)
        sessions = page.get_by_role("list", name="Where you're signed in")
        expect(sessions.get_by_role("listitem")).to_have_count(2)
        expect(sessions.get_by_role("listitem").first).to_contain_text("This device")
        check_page(page, "Where you're signed in")
        sessions.get_by_role("listitem").nth(1).get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("Signed out that session.")).to_be_visible()
        expect(sessions.get_by_role("listitem")).to_have_count(1)
        expect(page.get_by_role("button", name="Sign out everywhere else")).to_have_count(0)

        other.reload()
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
        page.reload()
        expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
