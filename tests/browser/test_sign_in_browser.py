"""Signing in and out in a real browser, under the real CSP."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD


def test_sign_in_reaches_my_profile_and_sign_out_leaves(page, factory):
    factory.user(email="zoe@example.com", name="Zoë Brown")
    page.goto("/sign-in")
    page.wait_for_function("() => typeof window.htmx === 'object'")
    # One "Sign in" button: "Sign in with a passkey" shows only where the device
    # can check a passkey itself (not this headless Chromium without one).
    expect(page.get_by_role("button", name="Sign in")).to_have_count(1)
    browser_sign_in(page, "zoe@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    # One "Sign out" button on My Profile: this device's session row has none.
    expect(page.get_by_role("button", name="Sign out")).to_have_count(1)
    page.get_by_role("link", name="Zoë Brown").click()
    expect(page).to_have_url(page.url)
    expect(page.get_by_text("Multi-factor authentication")).to_be_visible()
    page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_text("You have signed out.")).to_be_visible()


def test_wrong_password_shows_one_clear_message(page, factory):
    factory.user(email="zoe@example.com")
    browser_sign_in(page, "zoe@example.com", "wrong wrong wrong")
    expect(page.get_by_role("alert")).to_have_text("The email or password is incorrect.")
    # htmx loaded under the CSP without errors (the page fixture fails on console errors).
    page.wait_for_function("() => typeof window.htmx === 'object'")
