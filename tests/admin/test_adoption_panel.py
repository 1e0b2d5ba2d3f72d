"""The adoption panel on Users & permissions: tiles that filter the list, the
90-day chart whose points are the snapshots (and today's live counts), its
table, its cost, and only the admin's own firm."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from tests import mfa_support
from tests.admin.conftest import enable_mfa, listed_names, set_fields
from tests.sql_counting import recorded_sql
from webapp import timefmt
from webapp.models import AdoptionSnapshot, System

clock = mfa_support.clock  # the fixture, under its own name
HX = {"HX-Request": "true"}


def tiles(page: str) -> dict[str, tuple[str, str]]:
    """Each tile's label: (its value, the list it links to)."""
    found = re.findall(
        r'<a class="tile[^"]*" href="([^"]+)">\s*<span class="tile-value">([^<]+)</span>\s*'
        r'<span class="tile-label">([^<]+)</span>',
        page,
    )
    return {label: (value, href.replace("&amp;", "&")) for href, value, label in found}


@pytest.fixture
def today(clock):
    return timefmt.local_time("Pacific/Auckland", clock.now).date()


def add_snapshots(session, system, days: dict[date, tuple[int, int]]) -> None:
    for day, (active, with_mfa) in days.items():
        session.add(
            AdoptionSnapshot(
                system_id=system.id,
                local_date=day,
                active_users=active,
                with_mfa=with_mfa,
                with_app=with_mfa,
                with_passkey=0,
                with_sso=0,
                without_mfa=active - with_mfa,
                past_deadline=0,
            )
        )
    session.commit()


def test_tiles_count_and_link_to_the_matching_filter(app, admin_client, session, firm, clock):
    enable_mfa(app, session, firm["jose"].id)
    system = session.get(System, firm["system"].id)
    system.mfa_required, system.mfa_required_since = True, clock.now - timedelta(days=10)
    session.add(system)
    session.commit()
    set_fields(session, firm["liam"].id, mfa_deadline=clock.now - timedelta(days=1))
    set_fields(session, firm["mere"].id, mfa_deadline=clock.now + timedelta(days=1))
    set_fields(session, firm["zoe"].id, mfa_locked_until=clock.now + timedelta(minutes=4))
    set_fields(session, firm["ann"].id, mfa_enabled=True)  # the admin needs MFA under enforcement

    page = admin_client.get("/admin/users").get_data(as_text=True)
    found = tiles(page)
    assert found == {
        "MFA adoption": ("40%", "/admin/users?mfa=on&active=yes#results"),
        "Users without MFA": ("3", "/admin/users?mfa=off&active=yes#results"),
        "Past enrolment deadline": ("1", "/admin/users?mfa=overdue&active=yes#results"),
        "Locked out right now": ("1", "/admin/users?mfa=locked&active=yes#results"),
    }
    lists = {
        label: listed_names(admin_client.get(href.split("#")[0], headers=HX))
        for label, (_, href) in found.items()
    }
    assert lists == {
        "MFA adoption": ["Ann Admin", "José Álvarez"],
        "Users without MFA": ["liam chen", "Mere Tūhoe", "Zoë Brown"],
        "Past enrolment deadline": ["liam chen"],
        "Locked out right now": ["Zoë Brown"],
    }
    # The list's own filter offers the same two.
    assert '<option value="overdue">Past enrolment deadline</option>' in page
    assert '<option value="locked">Locked out right now</option>' in page

    clock.advance(minutes=5)  # Zoë's lock is over
    assert listed_names(admin_client.get("/admin/users?mfa=locked", headers=HX)) == []


def line_points(page: str, line: str, days: list[date]) -> dict[date, int]:
    """The values a chart line draws, by day, read back from the SVG's geometry:
    y through the y axis' labelled guides, x through the positions of the dates
    written under the axis."""
    svg = page[page.index("<svg") : page.index("</svg>")]
    ticks = re.findall(r'<text x="-5" y="([\d.]+)" class="[^"]*">(\d+)</text>', svg)
    (y0, v0), (y1, v1) = [(float(y), int(value)) for y, value in (ticks[0], ticks[-1])]
    by_label = {day.strftime("%-d %b"): index for index, day in enumerate(days)}
    axis_x = svg[svg.index('class="axis x"') :]
    dated = [
        (float(x), by_label[text])
        for x, text in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="major">([^<]+)<', axis_x)
        if text in by_label
    ]
    (x0, i0), (x1, i1) = dated[0], dated[-1]
    group = re.search(rf'<g class="series [^"]*line-{line}">(.*?)</g>', svg).group(1)
    points = {}
    for path in re.findall(r'd="([^"]+)"', group):
        numbers = [float(n) for n in re.findall(r"-?[\d.]+", path)]
        for x, y in zip(numbers[::2], numbers[1::2], strict=True):
            index = round(i0 + (x - x0) * (i1 - i0) / (x1 - x0))
            points[days[index]] = round(v0 + (y - y0) * (v1 - v0) / (y1 - y0))
    return points


def test_the_chart_draws_the_snapshots_and_today_and_the_table_has_the_same(
    app, admin_client, session, firm, today
):
    enable_mfa(app, session, firm["jose"].id)  # today: 1 of 5 active users
    stored = {
        today - timedelta(days=ago): (4 + ago % 3, ago % 4)
        for ago in range(1, 60)
        if ago % 7  # a gap a week: days the run missed
    }
    add_snapshots(session, firm["system"], stored)
    page = admin_client.get("/admin/users").get_data(as_text=True)

    days = [today - timedelta(days=ago) for ago in range(89, -1, -1)]
    expected = {**stored, today: (5, 1)}
    assert line_points(page, "mfa", days) == {day: mfa for day, (_, mfa) in expected.items()}
    assert line_points(page, "active", days) == {day: act for day, (act, _) in expected.items()}

    table = page[page.index("Adoption by day (table)") :].split("</table>", 1)[0]
    rows = re.findall(
        r'<tr><td class="title">([^<]+)</td><td data-label="Active users">(\d+)</td>'
        r'<td data-label="With MFA">(\d+)</td>',
        table,
    )
    assert rows[0] == ("Today", "5", "1")
    assert {
        datetime.strptime(label, "%d %b %Y").date() if label != "Today" else today: (int(a), int(m))
        for label, a, m in rows
    } == expected
    first = min(stored).strftime("%-d %b %Y")
    assert f"No data before {first}." in table
    assert f"No data before {first}." in page.split("<desc", 1)[1].split("</desc>", 1)[0]
    assert 'role="img" aria-labelledby="adoption-chart-title adoption-chart-desc"' in page


def test_enforcement_and_its_deadline_are_marked(app, admin_client, session, firm, clock, today):
    set_fields(session, firm["ann"].id, mfa_enabled=True)
    system = session.get(System, firm["system"].id)
    system.mfa_required, system.mfa_grace_days = True, 14
    system.mfa_required_since = clock.now - timedelta(days=30)
    session.add(system)
    session.commit()
    page = admin_client.get("/admin/users").get_data(as_text=True)
    markers = re.findall(r'<g class="guides marker">.*?class="major">([^<]+)</text>', page)
    assert markers == ["MFA required", "Deadline"]
    since = (today - timedelta(days=30)).strftime("%-d %b %Y")
    assert f"MFA required for all users since {since}" in page


def test_the_panel_costs_two_statements(admin_client, session, firm, today):
    add_snapshots(session, firm["system"], {today - timedelta(days=1): (5, 1)})
    admin_client.get("/admin/users")  # warm: the chart is drawn once per figures
    with recorded_sql(admin_client.application) as page:
        admin_client.get("/admin/users")
    with recorded_sql(admin_client.application) as fragment:
        admin_client.get("/admin/users", headers=HX)
    assert len(page.statements) - len(fragment.statements) == 2
    assert sum("adoption_snapshots" in sql for sql in page.statements) == 1


def test_the_panel_shows_only_the_admin_s_firm(app, admin_client, session, firm, factory, today):
    outsider_firm = session.get(System, firm["outsider"].system_id)
    add_snapshots(session, outsider_firm, {today - timedelta(days=3): (900, 800)})
    factory.user(outsider_firm, "extra@other.example", "Extra Outsider")
    add_snapshots(session, firm["system"], {today - timedelta(days=1): (5, 0)})
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert tiles(page)["Users without MFA"][0] == "5"
    assert "900" not in page
    assert "No data before" in page
    assert line_points(page, "active", [today - timedelta(days=a) for a in range(89, -1, -1)]) == {
        today - timedelta(days=1): 5,
        today: 5,
    }
