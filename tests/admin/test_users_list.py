"""Users & permissions: the live filter, sorts, paging, the MFA column, the CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.admin.conftest import enable_mfa, listed_names, set_fields
from webapp.admin import user_list
from webapp.admin.forms import FILTER_CHOICES, SORT_LABELS
from webapp.models import (
    User,
    utcnow,
)

# --- The users list ------------------------------------------------------------


def test_live_filter_returns_only_the_results_partial_for_htmx(admin_client):
    response = admin_client.get("/admin/users?q=zoe", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="user-filters"' not in body
    assert listed_names(response) == ["Zoë Brown"]
    assert "1</strong> user matches" in body
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HX-Request": "true", "HX-Boosted": "true"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    ],
)
def test_whole_page_without_htmx_boosted_or_history_restore(admin_client, headers):
    body = admin_client.get("/admin/users?q=zoe", headers=headers).get_data(as_text=True)
    assert "<html" in body
    assert 'hx-trigger="search, keyup delay:200ms changed"' in body
    assert 'value="zoe"' in body  # the filter state comes back from the URL
    assert 'hx-push-url="true"' in body and "htmx-indicator" in body


def test_page_shows_mfa_column_and_summary(admin_client, app, session, firm):
    enable_mfa(app, session, firm["zoe"].id)
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert body.count('aria-label="MFA enabled"') == 1
    assert body.count('aria-label="MFA not enabled"') == 4
    assert "4 of 5 active users without MFA" in body and "(20% adoption)" in body
    assert body.count(">Edit</a>") == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        ("q=zoe", ["Zoë Brown"]),
        ("q=ZOË", ["Zoë Brown"]),
        ("q=alvarez", ["José Álvarez"]),
        ("q=tuhoe", ["Mere Tūhoe"]),
        ("q=liam%40harbour", ["liam chen"]),
        ("q=%25", []),  # a LIKE wildcard is searched for literally
        ("q=_", []),
        ("q=nobody", []),
        ("mfa=on", ["Zoë Brown"]),
        ("mfa=off&role=user", ["José Álvarez", "liam chen", "Mere Tūhoe"]),
        ("role=admin", ["Ann Admin"]),
        ("active=no", ["Mere Tūhoe"]),
        ("active=yes&mfa=off", ["Ann Admin", "José Álvarez", "liam chen"]),
        (
            "sort=name&dir=desc",
            ["Zoë Brown", "Mere Tūhoe", "liam chen", "José Álvarez", "Ann Admin"],
        ),
        ("sort=email", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        (
            "sort=mfa&dir=desc",
            ["Zoë Brown", "Mere Tūhoe", "liam chen", "José Álvarez", "Ann Admin"],
        ),
        ("sort=role", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        ("sort=active", ["Mere Tūhoe", "Ann Admin", "José Álvarez", "liam chen", "Zoë Brown"]),
        (
            "sort=last_sign_in&dir=desc",
            ["liam chen", "José Álvarez", "Zoë Brown", "Mere Tūhoe", "Ann Admin"],
        ),
        (
            "sort=bogus&mfa=maybe",
            ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"],
        ),
    ],
)
def test_filters_and_sorts(admin_client, app, session, firm, query, expected):
    enable_mfa(app, session, firm["zoe"].id)
    set_fields(session, firm["mere"].id, active=False)
    base = utcnow() - timedelta(days=10)
    for days, key in enumerate(["ann", "mere", "zoe", "jose", "liam"]):
        set_fields(session, firm[key].id, last_sign_in_at=base + timedelta(days=days))
    response = admin_client.get(f"/admin/users?{query}", headers={"HX-Request": "true"})
    assert listed_names(response) == expected


@pytest.mark.parametrize("sort", sorted(user_list.SORTS))
def test_every_sort_has_an_index_in_its_exact_order(sort):
    # Paging a 100,000-user list stays fast only if an index yields the ORDER BY.
    order = ["system_id", *(column.key for column in user_list.SORTS[sort]), "id"]
    indexes = [[column.name for column in index.columns] for index in User.__table__.indexes]
    assert order in indexes


def test_clicking_a_header_sorts_and_again_reverses(admin_client):
    body = admin_client.get("/admin/users?q=a").get_data(as_text=True)
    assert 'href="/admin/users?q=a&amp;sort=email"' in body
    assert 'href="/admin/users?q=a&amp;dir=desc"' in body  # name is sorted: reverse it


def test_paging_is_stable_and_bounded(admin_client, factory, firm):
    for number in range(52):
        factory.user(firm["system"], f"p{number:02d}@harbour.example", f"Pat {number:02d}")
    first = admin_client.get("/admin/users?q=pat", headers={"HX-Request": "true"})
    second = admin_client.get("/admin/users?q=pat&page=2", headers={"HX-Request": "true"})
    beyond = admin_client.get("/admin/users?q=pat&page=99", headers={"HX-Request": "true"})
    assert listed_names(first) == [f"Pat {n:02d}" for n in range(50)]
    assert listed_names(second) == ["Pat 50", "Pat 51"]
    assert listed_names(beyond) == listed_names(second)  # past the end: the last page
    assert "Page 1 of 2" in first.get_data(as_text=True)
    assert 'href="/admin/users?q=pat&amp;page=2"' in first.get_data(as_text=True)
    # Without a search, role and active filters page the same way.
    assert len(listed_names(admin_client.get("/admin/users?role=user&page=2"))) == 6


def test_a_broad_search_stops_counting_at_the_cap(admin_client, factory, firm, monkeypatch):
    # The cap is 5,000 (README, "Filter performance"); a smaller one behaves the same.
    monkeypatch.setattr(user_list, "SMALL_RESULT", 50)
    for number in range(52):
        factory.user(firm["system"], f"p{number:02d}@harbour.example", f"Pat {number:02d}")
    searched = admin_client.get("/admin/users?q=pat&page=2", headers={"HX-Request": "true"})
    body = searched.get_data(as_text=True)
    assert "<strong>More than 50</strong> users match." in body
    assert "Page 1 of 1" in body and "Only the first 50 are paged" in body
    assert listed_names(searched) == [f"Pat {n:02d}" for n in range(50)]
    # Without a search the count is exact.
    unsearched = admin_client.get("/admin/users?role=user", headers={"HX-Request": "true"})
    assert "users match." in unsearched.get_data(as_text=True)
    assert "More than" not in unsearched.get_data(as_text=True)


def test_enforcement_deadline_shows_in_the_list(admin_client, session, firm):
    # 20:00 UTC is the next morning in Auckland, the firm's timezone: its date shows.
    deadline = (utcnow() + timedelta(days=3)).replace(hour=20, minute=0)
    set_fields(session, firm["zoe"].id, mfa_deadline=deadline)
    set_fields(session, firm["jose"].id, mfa_deadline=utcnow() - timedelta(minutes=1))
    body = admin_client.get("/admin/users").get_data(as_text=True)
    local = deadline.astimezone(ZoneInfo("Pacific/Auckland"))
    assert local.date() != deadline.date()
    assert f"enrol by {local.day} {local:%b %Y}" in body
    assert "enrol at next sign-in" in body


def test_names_are_escaped_in_the_list(admin_client, factory, firm):
    factory.user(firm["system"], "x@harbour.example", "<script>alert(1)</script>")
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


# --- CSV -----------------------------------------------------------------------


def test_csv_is_the_filtered_list_with_formula_cells_neutralised(admin_client, factory, firm):
    factory.user(firm["system"], "eve@harbour.example", '=HYPERLINK("http://x","Zoe")')
    factory.user(firm["system"], "plus@harbour.example", "+zoe sum")
    # Closing the streamed response ends its request (and database transaction).
    with admin_client.get("/admin/users.csv?q=zoe&sort=email") as response:
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == (
        ["Name", "Email", "Role", "Active", "MFA", "MFA methods", "MFA deadline", "Last sign-in"]
    )
    assert [row[:2] for row in rows[1:]] == [
        ['\'=HYPERLINK("http://x","Zoe")', "eve@harbour.example"],
        ["'+zoe sum", "plus@harbour.example"],
        ["Zoë Brown", "zoe@harbour.example"],
    ]
    assert rows[3][2:6] == ["user", "yes", "no", ""]


def test_every_sort_and_filter_value_has_its_label():
    assert SORT_LABELS.keys() == user_list.SORTS.keys()
    assert {name: tuple(choices) for name, choices in FILTER_CHOICES.items()} == (
        user_list.FILTER_VALUES
    )
