"""Compliance reminders, tested directly with the clock given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.heads_up_helpers import add_admin, add_users, outbox, set_rule, tick
from webapp import reminders

# 09:00 in Auckland (NZDT) on Monday 23 November 2026.
MONDAY_MORNING = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


@pytest.fixture
def xero_firm(factory, session):
    """A NZ firm linked to Xero (compliance applies)."""
    system = factory.system("Totara Law", country="NZ", accounting="xero")
    admin = add_admin(session, system, "Ada Admin")
    lacking = add_users(session, system, ["Carla Clerk", "Dan Drafter"])
    add_users(session, system, ["Eve Enrolled"], mfa=True)
    add_users(session, system, ["Fred Former"], active=False)
    return {"system": system, "admin": admin, "lacking": lacking}


def test_each_active_user_without_mfa_gets_a_reminder(app, session, factory, xero_firm):
    plain = factory.system("No Accounting", country="NZ", accounting="none")
    add_users(session, plain, ["Nora Noaccounting"])
    british = factory.system(
        "London Firm", country="GB", timezone="Europe/London", accounting="xero"
    )
    add_users(session, british, ["Liam London"])

    tick(app, session, MONDAY_MORNING)
    tick(app, session, MONDAY_MORNING + timedelta(hours=12))  # London's morning

    recipients = sorted(row.recipient for row in outbox(session, "reminder"))
    expected = [xero_firm["admin"], *xero_firm["lacking"]]
    assert recipients == sorted(user.email for user in expected)
    reminder = outbox(session, "reminder")[0]
    assert reminder.subject == "Please set up multi-factor authentication for Totara Law"
    assert "http://127.0.0.1:5000/profile" in reminder.body_text
    assert "click Activate next to Multi-factor authentication" in reminder.body_text


def test_the_digest_says_why_and_how_many_reminders_went_out(app, session, xero_firm):
    tick(app, session, MONDAY_MORNING)
    (digest,) = outbox(session, "heads_up")
    assert "Why it matters" in digest.body_text
    assert "3 compliance reminders went out to them today" in digest.body_text
    assert "Why it matters" in digest.body_html


def test_reminders_go_out_even_when_the_digest_is_off(app, session, xero_firm):
    set_rule(session, xero_firm["system"], enabled=False)
    summary = tick(app, session, MONDAY_MORNING)
    assert (summary.digests, summary.reminders) == (0, 3)


@pytest.mark.parametrize("interval_days", [7, 3])
def test_at_most_one_reminder_per_interval(app, session, xero_firm, interval_days):
    app.config["MFA_REMINDER_INTERVAL_DAYS"] = interval_days
    per_day = []
    for day in range(2 * interval_days + 1):
        summary = tick(app, session, MONDAY_MORNING + timedelta(days=day))
        per_day.append(summary.reminders)
    expected = [3 if day % interval_days == 0 else 0 for day in range(2 * interval_days + 1)]
    assert per_day == expected


def test_an_earlier_run_time_next_week_still_counts_as_a_week(app, session, xero_firm):
    """Reminded at 09:00 on a Monday; next Monday's run at 07:00 is a week later."""
    tick(app, session, MONDAY_MORNING)
    set_rule(session, xero_firm["system"], hour=7)
    next_monday_seven = MONDAY_MORNING + timedelta(days=7, hours=-2)
    assert tick(app, session, next_monday_seven).reminders == 3


def test_a_user_who_enrols_gets_no_more_reminders(app, session, xero_firm):
    tick(app, session, MONDAY_MORNING)
    enrolled = xero_firm["lacking"][0]
    enrolled.mfa_enabled = True
    session.add(enrolled)
    session.commit()
    tick(app, session, MONDAY_MORNING + timedelta(days=7))
    week_two = [row.recipient for row in outbox(session, "reminder") if row.run_date.day == 30]
    assert enrolled.email not in week_two
    assert len(week_two) == 2


def test_reminder_cutoff_counts_local_days():
    cutoff = reminders.reminder_cutoff(date(2026, 11, 30), "Pacific/Auckland", timedelta(days=7))
    # Midnight starting Tuesday 24 November in Auckland (NZDT, UTC+13).
    assert cutoff == datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
