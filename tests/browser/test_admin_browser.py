"""The live users filter in a real browser, under the real CSP."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import browser_sign_in
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
