"""The heads-up digest service, tested directly with the clock given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from tests.heads_up_helpers import add_admin, add_users, outbox, set_rule, tick
from tests.sql_counting import recorded_sql
from webapp import heads_up, timefmt
from webapp.models import HeadsUpKind

# 09:00 in Auckland (NZDT, UTC+13) on Friday 27 November 2026.
MORNING_IN_AUCKLAND = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


@pytest.fixture
def firm(factory, session):
    """A NZ firm without accounting: two admins, four users (one with MFA, one inactive)."""
    system = factory.system("Kauri & Co", country="NZ", timezone="Pacific/Auckland")
    admins = [add_admin(session, system, "Ada Admin"), add_admin(session, system, "Ben Boss")]
    lacking = add_users(session, system, ["Carla Clerk", "Dan Drafter"])
    with_mfa = add_users(session, system, ["Eve Enrolled"], mfa=True)
    add_users(session, system, ["Fred Former"], active=False)
    return {"system": system, "admins": admins, "lacking": lacking, "with_mfa": with_mfa}


def test_digest_goes_to_each_admin_of_the_due_system_only(app, session, factory, firm):
    other = factory.system("Other Firm", timezone="Pacific/Auckland")
    add_admin(session, other, "Olga Other")
    add_users(session, other, ["Oscar Outsider"])
    set_rule(session, other, enabled=False)

    summary = tick(app, session, MORNING_IN_AUCKLAND)

    digests = outbox(session, "heads_up")
    assert summary.digests == 2
    assert sorted(row.recipient for row in digests) == sorted(a.email for a in firm["admins"])
    body = digests[0].body_text
    # Four active users (both admins lack MFA too): 4 of 5 lack it, 20% adoption.
    assert "4 of 5 active users of Kauri & Co do not have multi-factor authentication" in body
    assert "MFA adoption: 20%" in body
    for user in firm["admins"] + firm["lacking"]:
        assert f"{user.display_name} <{user.email}>" in body
    for absent in ("Eve Enrolled", "Fred Former", "Oscar Outsider", "Olga Other"):
        assert absent not in body
    assert "http://127.0.0.1:5000/admin/users?mfa=off" in body
    assert "Why it matters" not in body
    assert (
        digests[0].dedupe_key == f"heads_up:{firm['system'].id}:{firm['admins'][0].id}:2026-11-27"
    )


def test_running_twice_queues_nothing_new(app, session, firm):
    first = tick(app, session, MORNING_IN_AUCKLAND)
    second = tick(app, session, MORNING_IN_AUCKLAND + timedelta(hours=1))
    assert (first.systems, second.systems, second.digests) == (1, 0, 0)
    assert len(outbox(session)) == 2


def test_two_concurrent_claims_run_a_system_once(app, session, firm):
    """Two beats (or workers) see the same due system: the conditional UPDATE picks one."""
    with app.app_context():
        runs_a = heads_up._runs(session, MORNING_IN_AUCKLAND, (sa.true(),))
        runs_b = heads_up._runs(session, MORNING_IN_AUCKLAND, (sa.true(),))
        won_a = heads_up.claim(session, runs_a)
        session.commit()
        won_b = heads_up.claim(session, runs_b)
    assert [run.system_id for run in won_a] == [firm["system"].id]
    assert won_b == []


def test_not_due_before_the_hour_and_catches_up_after_a_missed_tick(app, session, firm):
    set_rule(session, firm["system"], hour=7)
    six_am = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 06:30 NZDT
    assert tick(app, session, six_am).systems == 0
    # The 07:00 and 08:00 ticks were missed; the 09:xx one still sends today's digest.
    assert tick(app, session, six_am + timedelta(hours=3)).systems == 1
    assert {row.run_date for row in outbox(session)} == {date(2026, 11, 27)}


@pytest.mark.parametrize(
    "timezone, transition",
    [
        ("Pacific/Auckland", date(2026, 9, 27)),  # 02:00 NZST -> 03:00 NZDT
        ("Pacific/Auckland", date(2026, 4, 5)),  # 03:00 NZDT -> 02:00 NZST
        ("Australia/Sydney", date(2026, 10, 4)),  # 02:00 AEST -> 03:00 AEDT
        ("Australia/Sydney", date(2026, 4, 5)),  # 03:00 AEDT -> 02:00 AEST
        ("Europe/London", date(2026, 3, 29)),
    ],
)
@pytest.mark.parametrize("hour", [2, 7, 23])
def test_hourly_ticks_across_daylight_saving_send_once_per_local_day(
    app, session, factory, timezone, transition, hour
):
    """Hourly ticks (at a few minutes past, as beat does) over the days around a DST
    change: exactly one digest per local date, at the first tick at or after the hour
    (the skipped 02:00 on a spring-forward day runs at 03:00)."""
    system = factory.system("Tz Firm", timezone=timezone)
    add_admin(session, system)
    set_rule(session, system, hour=hour)
    zone = ZoneInfo(timezone)
    start = datetime.combine(transition - timedelta(days=2), datetime.min.time(), zone)
    now = start.astimezone(UTC).replace(minute=5)
    end = now + timedelta(days=4, hours=1)
    runs = []
    while now < end:
        if tick(app, session, now).systems:
            runs.append(now.astimezone(zone))
        now += timedelta(hours=1)

    local_dates = [moment.date() for moment in runs]
    assert local_dates == sorted(set(local_dates))
    assert len(local_dates) in (4, 5)  # 4 days and an hour in UTC: 4 or 5 local dates
    assert all(moment.hour in (hour, hour + 1) for moment in runs)
    assert [row.run_date for row in outbox(session)] == local_dates


@pytest.mark.parametrize(
    "moment, hour, last_run, due",
    [
        # Spring forward in Auckland: 02:xx does not exist; 03:05 NZDT counts as past 02:00.
        (datetime(2026, 9, 26, 14, 5, tzinfo=UTC), 2, date(2026, 9, 26), True),
        # Fall back: the second 02:30 (NZST) of 5 April finds the date claimed.
        (datetime(2026, 4, 4, 14, 30, tzinfo=UTC), 2, date(2026, 4, 5), False),
        (datetime(2026, 4, 4, 13, 30, tzinfo=UTC), 2, date(2026, 4, 4), True),
        (datetime(2026, 11, 26, 17, 59, tzinfo=UTC), 7, None, False),  # 06:59 NZDT
        (datetime(2026, 11, 26, 18, 0, tzinfo=UTC), 7, None, True),  # 07:00 NZDT
    ],
)
def test_is_due_in_auckland(moment, hour, last_run, due):
    local = timefmt.local_time("Pacific/Auckland", moment)
    assert heads_up.is_due(local, hour, last_run) is due


def test_the_list_is_capped_at_fifty_with_and_n_more(app, session, factory):
    system = factory.system("Big Firm")
    add_admin(session, system)
    add_users(session, system, [f"User {number:02d}" for number in range(54)])
    tick(app, session, MORNING_IN_AUCKLAND)
    (digest,) = outbox(session, "heads_up")
    assert "55 of 55 active users" in digest.body_text
    assert digest.body_text.count("last signed in:") == 50
    assert "and 5 more." in digest.body_text
    assert "and 5 more." in digest.body_html


def test_last_sign_in_is_shown_in_the_firms_local_date(app, session, factory):
    system = factory.system("Dated Firm")
    add_admin(session, system, last_sign_in_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    tick(app, session, MORNING_IN_AUCKLAND)
    (digest,) = outbox(session, "heads_up")
    assert "last signed in: 21 Nov 2026" in digest.body_text  # 01:00 NZDT on the 21st


@pytest.mark.parametrize("send_all_clear, expected", [(False, 0), (True, 1)])
def test_everyone_with_mfa_sends_nothing_unless_all_clear_is_asked(
    app, session, factory, send_all_clear, expected
):
    system = factory.system("Tidy Firm")
    add_admin(session, system, mfa=True)
    add_users(session, system, ["Una User"], mfa=True)
    set_rule(session, system, send_all_clear=send_all_clear)
    tick(app, session, MORNING_IN_AUCKLAND)
    digests = outbox(session, "heads_up")
    assert len(digests) == expected
    if digests:
        assert digests[0].subject == "All clear: every user of Tidy Firm has MFA"
        assert "All 2 active users of Tidy Firm have multi-factor authentication" in (
            digests[0].body_text
        )


def test_a_rule_can_report_users_with_mfa(app, session, firm):
    set_rule(session, firm["system"], kind=HeadsUpKind.WITH_MFA.value)
    tick(app, session, MORNING_IN_AUCKLAND)
    digest = outbox(session, "heads_up")[0]
    assert "1 of 5 active users of Kauri & Co have multi-factor authentication" in digest.body_text
    assert "Eve Enrolled" in digest.body_text
    assert "Carla Clerk" not in digest.body_text
    assert "/admin/users?mfa=on" in digest.body_text


def test_chosen_recipients_only_and_never_another_systems_admin(app, session, factory, firm):
    other = factory.system("Other Firm")
    outsider = add_admin(session, other, "Olga Other")
    set_rule(session, other, enabled=False)
    chosen = firm["admins"][1]
    set_rule(session, firm["system"], recipient_ids=[chosen.id, outsider.id])
    tick(app, session, MORNING_IN_AUCKLAND)
    assert [row.recipient for row in outbox(session)] == [chosen.email]


def test_disabled_rule_and_inactive_admins_get_nothing(app, session, factory):
    system = factory.system("Quiet Firm")
    add_admin(session, system, active=False)
    add_users(session, system, ["Una User"])
    assert tick(app, session, MORNING_IN_AUCKLAND).digests == 0
    set_rule(session, system, enabled=False, last_run_local_date=None)
    add_admin(session, system, "Active Admin")
    assert tick(app, session, MORNING_IN_AUCKLAND).digests == 0
    assert outbox(session) == []


def test_names_are_escaped_in_the_html_part(app, session, factory):
    system = factory.system("Escapes <i>Ltd</i>")
    add_admin(session, system)
    add_users(session, system, ["<b>Mallory</b>"])
    tick(app, session, MORNING_IN_AUCKLAND)
    (digest,) = outbox(session, "heads_up")
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in digest.body_html
    assert "<b>Mallory" not in digest.body_html
    assert "Escapes &lt;i&gt;Ltd&lt;/i&gt;" in digest.body_html
    assert "<b>Mallory</b>" in digest.body_text  # plain text shows the name as typed


def test_send_now_sends_even_after_todays_run_and_once_per_request(app, session, firm):
    tick(app, session, MORNING_IN_AUCKLAND)
    clicked = MORNING_IN_AUCKLAND + timedelta(minutes=30)
    with app.app_context():
        first = heads_up.send_now(session, firm["system"].id, clicked)
        retried = heads_up.send_now(session, firm["system"].id, clicked)
        later = heads_up.send_now(session, firm["system"].id, clicked + timedelta(minutes=5))
    session.commit()  # as the task does
    assert (first.digests, retried.digests, later.digests) == (2, 0, 2)
    assert len(outbox(session, "heads_up")) == 6


def test_idle_tick_is_one_query(app, session, factory):
    for number in range(5):
        system = factory.system(f"Done {number}")
        set_rule(session, system, last_run_local_date=date(2026, 11, 27))
    statements = count_statements(app, lambda: tick(app, session, MORNING_IN_AUCKLAND))
    assert statements == 1


def test_statements_do_not_grow_with_users(app, session, factory):
    def run_with(users_per_system: int, day: int) -> int:
        for number in range(3):
            system = factory.system(f"Firm {users_per_system}-{number}", accounting="xero")
            add_admin(session, system)
            add_users(session, system, [f"U{n}" for n in range(users_per_system)])
        now = MORNING_IN_AUCKLAND + timedelta(days=day)
        return count_statements(app, lambda: tick(app, session, now))

    assert run_with(2, 0) == run_with(40, 1)


def count_statements(app, work) -> int:
    with recorded_sql(app) as sql:
        work()
    return len(sql.statements)
