"""MFA end to end in a real browser: enrol through the dialog, sign in with a
code, turn MFA off. The dialog's steps must swap in place (no page load).
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import mfa_support
from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD

clock = mfa_support.clock  # the fixture, under its own name


def mark_page(page) -> None:
    """Wait for htmx (a deferred script), then mark this page load."""
    page.wait_for_function("() => typeof window.htmx === 'object'")
    page.evaluate("window.__marker = 1")


def assert_no_page_load(page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def test_enrol_sign_in_with_a_code_and_deactivate(page, factory, clock):
    factory.user(email="zoe@example.com", name="Zoë Brown")
    browser_sign_in(page, "zoe@example.com", PASSWORD)
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    expect(page.locator("#mfa-row")).to_contain_text("Not configured")
    mark_page(page)

    page.get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Set up multi-factor authentication (MFA)")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("img", name="QR code")).to_be_visible()
    dialog.get_by_role("button", name="Show secret key").click()
    key = dialog.locator("#secret-key-value")
    expect(key).to_have_text(re.compile(r"^([A-Z2-7]{4} ){7}[A-Z2-7]{4}$"))
    secret = key.inner_text().replace(" ", "")
    assert_no_page_load(page)

    dialog.get_by_label("First code").fill(clock.code(secret))
    dialog.get_by_label("Second code").fill(clock.code(secret))
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The two codes are the same.")).to_be_visible()
    assert_no_page_load(page)

    dialog.get_by_label("First code").fill(clock.code(secret))
    dialog.get_by_label("Second code").fill(clock.code(secret, steps=1))
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Multi-factor authentication is now enabled")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    expect(page.locator("#mfa-row")).to_contain_text("Enabled")
    assert_no_page_load(page)
    page.get_by_role("button", name="Done").click()
    expect(dialog).to_have_count(0)

    page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
    clock.advance(seconds=60)
    browser_sign_in(page, "zoe@example.com", PASSWORD)
    page.get_by_label("Verification code").fill(clock.code(secret))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    expect(page.locator("#mfa-row")).to_contain_text("Enabled")

    mark_page(page)
    clock.advance(seconds=30)
    page.get_by_role("button", name="Deactivate").click()
    page.get_by_label("Authentication code").fill(clock.code(secret))
    page.get_by_role("button", name="Turn off multi-factor authentication").click()
    expect(page.get_by_text("Multi-factor authentication is now off.")).to_be_visible()
    expect(page.locator("#mfa-row")).to_contain_text("Not configured")
    assert_no_page_load(page)
