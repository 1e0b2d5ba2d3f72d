"""The live users filter in a real browser, under the real CSP."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import browser_page, browser_sign_in, wait_for_htmx
from tests.conftest import PASSWORD


def test_typing_in_search_users_filters_live_and_back_restores(page, factory):
    system = factory.system(name="Harbour Law")
    factory.user(system, "ann@harbour.example", "Ann Admin", admin=True)
    factory.user(system, "zoe@harbour.example", "Zoë Brown")
    factory.user(system, "jose@harbour.example", "José Álvarez")
    browser_sign_in(page, "ann@harbour.example", PASSWORD)
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("heading", name="Users & permissions")).to_be_visible()
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(3)
    page.evaluate("window.__marker = 1")

    page.get_by_label("Search users").press_sequentially("zoe", delay=30)

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Zoë Brown")
    expect(rows.first.get_by_role("img", name="MFA not enabled")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/admin/users\?q=zoe$"))
    assert page.evaluate("window.__marker") == 1  # swapped in place, no page load

    page.get_by_label("MFA state").select_option("on")
    expect(page.get_by_text("No users match this filter.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"q=zoe.*mfa=on|mfa=on.*q=zoe"))

    page.go_back()
    expect(page).to_have_url(re.compile(r"/admin/users\?q=zoe$"))
    expect(rows).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(re.compile(r"/admin/users$"))
    expect(rows).to_have_count(3)
    expect(page.get_by_label("Search users")).to_have_value("")


def test_sorting_by_a_header_keeps_the_search(page, factory):
    system = factory.system(name="Harbour Law")
    factory.user(system, "ann@harbour.example", "Ann Admin", admin=True)
    factory.user(system, "b.zoe@harbour.example", "Zoë Brown")
    factory.user(system, "a.zoe@harbour.example", "Zoe Young")
    browser_sign_in(page, "ann@harbour.example", PASSWORD)
    page.goto("/admin/users")
    page.get_by_label("Search users").press_sequentially("zoe", delay=30)
    rows = page.locator("table.users tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Email").click()
    # The sorted table is in once its header carries the arrow; typing before
    # that would race the swap (both orders put Zoe Young first).
    expect(page.get_by_role("link", name="Email ▲")).to_be_visible()
    expect(rows.first).to_contain_text("Zoe Young")
    page.get_by_label("Search users").press_sequentially(" y", delay=30)
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"sort=email"))


def test_deactivating_a_leaver_signs_their_other_browser_out_at_once(
    browser, live_server, page, factory
):
    """Offboarding in Edit user: the admin unticks "Active" and confirms it's
    them; the leaver, signed in in another browser, is out at their next click
    and cannot sign in again."""
    system = factory.system(name="Harbour Law")
    factory.user(system, "ann@harbour.example", "Ann Admin", admin=True)
    factory.user(system, "leo@harbour.example", "Leo Leaver")
    with browser_page(browser, live_server) as leaver:
        browser_sign_in(leaver, "leo@harbour.example")
        expect(leaver.get_by_role("heading", name="My Profile")).to_be_visible()

        browser_sign_in(page, "ann@harbour.example", PASSWORD)
        page.goto("/admin/users")
        wait_for_htmx(page)
        page.get_by_role("row", name=re.compile("Leo Leaver")).get_by_role(
            "link", name="Edit"
        ).click()
        dialog = page.locator("dialog:modal")
        expect(dialog).to_have_accessible_name("Edit user")
        dialog.get_by_label("Active").uncheck()
        dialog.get_by_role("button", name="Save").click()
        dialog.get_by_label("Password").fill(PASSWORD)
        dialog.get_by_role("button", name="Confirm").click()
        expect(page.locator("dialog")).to_have_count(0)
        expect(page.get_by_role("row", name=re.compile("Leo Leaver"))).to_contain_text("Inactive")

        leaver.reload()
        expect(leaver.get_by_role("heading", name="Sign in")).to_be_visible()
        browser_sign_in(leaver, "leo@harbour.example")
        expect(leaver.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(leaver.get_by_text("The email or password is incorrect.")).to_be_visible()
