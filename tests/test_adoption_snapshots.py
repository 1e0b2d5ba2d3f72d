"""Daily adoption snapshots: written by the daily run once per firm and local
date (daylight-saving changes included), set-based, and the days before a
firm's first one replayed from the audit log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from tests.heads_up_helpers import add_admin, add_users, set_rule, tick
from tests.sql_counting import recorded_sql
from tests.test_sso_counting import set_sso
from webapp import retention
from webapp.models import AdoptionSnapshot, AuditEvent, System

# 09:00 in Auckland (NZDT, UTC+13) on Friday 27 November 2026.
MORNING_IN_AUCKLAND = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)


def snapshots(session, system) -> dict[date, AdoptionSnapshot]:
    session.expire_all()
    rows = session.exec(
        select(AdoptionSnapshot)
        .where(AdoptionSnapshot.system_id == system.id)
        .order_by(AdoptionSnapshot.local_date)
    )
    return {row.local_date: row for row in rows}


def hourly(app, session, start: datetime, hours: int) -> int:
    """Tick every hour from `start`, as beat does; return how many runs there were."""
    return sum(tick(app, session, start + timedelta(hours=hour)).systems for hour in range(hours))


def test_the_daily_run_writes_each_firm_s_counts_once_per_local_date(app, session, factory):
    kauri = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    add_admin(session, kauri, "Ada Admin", mfa=True)
    add_users(session, kauri, ["Carla Clerk", "Dan Drafter"])
    add_users(session, kauri, ["Eve Enrolled"], mfa=True, mfa_locked_until=MORNING_IN_AUCKLAND)
    add_users(session, kauri, ["Fred Former"], active=False, mfa=True)
    quiet = factory.system("Quiet Firm", timezone="Pacific/Auckland")  # digest off, no users
    set_rule(session, quiet, enabled=False)

    hourly(app, session, MORNING_IN_AUCKLAND - timedelta(hours=3), 20)  # 06:00 to 01:00

    [today] = snapshots(session, kauri).values()
    assert today.local_date == date(2026, 11, 27)
    assert (today.active_users, today.with_mfa, today.with_app, today.without_mfa) == (4, 2, 2, 2)
    assert (today.with_passkey, today.with_sso, today.past_deadline) == (0, 0, 0)
    assert today.source == "daily"
    assert [row.active_users for row in snapshots(session, quiet).values()] == [0]


@pytest.mark.parametrize(
    ("zone", "start", "hour", "change"),
    [
        # New Zealand springs forward on 27 Sep 2026: 02:00 becomes 03:00, so a
        # rule at 02:00 finds its hour skipped.
        ("Pacific/Auckland", datetime(2026, 9, 25, 10, 0, tzinfo=UTC), 2, date(2026, 9, 27)),
        # New York falls back on 1 Nov 2026: 01:00 to 02:00 happens twice.
        ("America/New_York", datetime(2026, 10, 30, 12, 0, tzinfo=UTC), 1, date(2026, 11, 1)),
    ],
)
def test_one_snapshot_a_local_date_across_a_daylight_saving_change(
    app, session, factory, zone, start, hour, change
):
    firm = factory.system("Harbour Law", country="NZ", timezone=zone)
    add_users(session, firm, ["Carla Clerk"])
    set_rule(session, firm, hour=hour)
    runs = hourly(app, session, start, 4 * 24)
    dates = list(snapshots(session, firm))
    assert change in dates
    assert dates == [dates[0] + timedelta(days=day) for day in range(len(dates))]  # none skipped
    assert runs == len(dates) >= 4  # none run twice


def test_snapshots_cost_the_same_statements_for_few_users_and_many(app, session, factory):
    statements = []
    for users in (2, 120):
        firm = factory.system(f"Firm of {users}", timezone="Pacific/Auckland")
        with_mfa = add_users(session, firm, [f"Enrolled {n}" for n in range(users // 2)], mfa=True)
        add_users(session, firm, [f"Pending {n}" for n in range(users - users // 2)])
        for user in with_mfa:  # history for the first snapshot to replay
            session.add(
                AuditEvent(
                    system_id=firm.id,
                    subject_id=user.id,
                    action="mfa.enabled",
                    created_at=MORNING_IN_AUCKLAND - timedelta(days=1),
                )
            )
        session.commit()
        with recorded_sql(app) as sql:
            tick(app, session, MORNING_IN_AUCKLAND + timedelta(days=len(statements)))
        statements.append(len(sql.statements))
        today = snapshots(session, firm)[max(snapshots(session, firm))]
        assert (today.active_users, today.with_mfa) == (users, users // 2)
    assert statements[0] == statements[1]


@pytest.fixture
def history(app, session, factory):
    """A firm created ten days before the morning of 27 Nov 2026 (17 Nov in
    Auckland) whose users changed since, as its audit log tells:
    Ann turned MFA on on 22 Nov; Bob on 19 Nov, reset by an admin on 25 Nov;
    Cid joined on 24 Nov; Dee turned MFA on on 18 Nov, deactivated on 23 Nov."""
    firm = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    created = MORNING_IN_AUCKLAND - timedelta(days=10)
    system = session.get(System, firm.id)
    system.created_at = created
    session.add(system)

    def days_ago(days: int) -> datetime:
        return MORNING_IN_AUCKLAND - timedelta(days=days)

    [ann] = add_users(session, firm, ["Ann"], mfa=True, created_at=created)
    [bob] = add_users(session, firm, ["Bob"], created_at=created)
    add_users(session, firm, ["Cid"], created_at=days_ago(3))
    [dee] = add_users(session, firm, ["Dee"], mfa=True, active=False, created_at=created)
    for user, action, days, details in (
        (ann, "mfa.enabled", 5, {}),
        (bob, "mfa.enabled", 8, {}),
        (bob, "mfa.reset_by_admin", 2, {"billing_acknowledged": True}),
        (dee, "mfa.enabled", 9, {}),
        (dee, "user.updated", 4, {"changes": {"active": [True, False]}}),
        (dee, "signin.succeeded", 6, {}),  # changes no count
    ):
        session.add(
            AuditEvent(
                system_id=firm.id,
                subject_id=user.id,
                action=action,
                details=details,
                created_at=days_ago(days),
            )
        )
    session.commit()
    return firm


def test_the_days_before_the_first_snapshot_are_replayed_from_the_audit_log(app, session, history):
    tick(app, session, MORNING_IN_AUCKLAND)
    rows = snapshots(session, history)
    counts = {day: (row.active_users, row.with_mfa) for day, row in rows.items()}
    assert counts == {
        date(2026, 11, 17): (3, 0),  # the firm's first day: nothing before it
        date(2026, 11, 18): (3, 1),
        date(2026, 11, 19): (3, 2),
        date(2026, 11, 20): (3, 2),
        date(2026, 11, 21): (3, 2),
        date(2026, 11, 22): (3, 3),
        date(2026, 11, 23): (2, 2),
        date(2026, 11, 24): (3, 2),
        date(2026, 11, 25): (3, 1),
        date(2026, 11, 26): (3, 1),
        date(2026, 11, 27): (3, 1),  # the day's own snapshot
    }
    assert {row.source for day, row in rows.items() if day < date(2026, 11, 27)} == {"audit_log"}
    assert all(row.without_mfa == row.active_users - row.with_mfa for row in rows.values())
    assert rows[date(2026, 11, 20)].past_deadline is None  # not in the log

    # The next day adds its own snapshot and replays nothing again.
    tick(app, session, MORNING_IN_AUCKLAND + timedelta(days=1))
    assert len(snapshots(session, history)) == 12


def test_nothing_is_replayed_from_before_the_audit_log_s_retention(app, session, history):
    app.config["AUDIT_RETENTION_DAYS"] = 5
    tick(app, session, MORNING_IN_AUCKLAND)
    assert list(snapshots(session, history)) == [
        date(2026, 11, 23) + timedelta(days=day) for day in range(5)
    ]


def test_users_added_after_the_first_snapshot_are_counted_from_their_first_day(
    app, session, factory
):
    firm = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    tick(app, session, MORNING_IN_AUCKLAND)
    add_users(session, firm, ["New Starter"])
    tick(app, session, MORNING_IN_AUCKLAND + timedelta(days=1))
    assert [row.active_users for row in snapshots(session, firm).values()] == [0, 1]


def test_single_sign_on_counts_from_a_user_s_first_one_in_the_log(app, session, factory):
    """Under "SSO or MFA" a sign-in through the firm's provider counts as MFA:
    Sam's first was three days ago; before it, Sam had none."""
    firm = factory.system("Rimu Law", timezone="Pacific/Auckland")
    system = session.get(System, firm.id)
    system.created_at = MORNING_IN_AUCKLAND - timedelta(days=10)
    session.add(system)
    set_sso(app, session, firm, "sso_or_mfa")
    [sam] = add_users(
        session, firm, ["Sam Sso"], last_sign_in_method="sso", created_at=system.created_at
    )
    add_users(session, firm, ["Pat Password"], created_at=system.created_at)
    for days in (3, 1):
        session.add(
            AuditEvent(
                system_id=firm.id,
                subject_id=sam.id,
                action="auth.sso_sign_in",
                created_at=MORNING_IN_AUCKLAND - timedelta(days=days),
            )
        )
    session.commit()
    tick(app, session, MORNING_IN_AUCKLAND)
    rows = snapshots(session, firm)
    counts = {day: (row.with_mfa, row.with_sso, row.with_app) for day, row in rows.items()}
    assert counts[date(2026, 11, 27)] == (1, 1, 0)
    assert counts[date(2026, 11, 24)] == (1, 1, 0)  # the day of the first
    assert counts[date(2026, 11, 23)] == (0, 0, 0)
    assert counts[date(2026, 11, 17)] == (0, 0, 0)


@pytest.mark.parametrize("app_overrides", [{"AUDIT_RETENTION_DAYS": 30}])
def test_snapshots_are_kept_as_long_as_the_audit_log(app, session, factory):
    firm = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    today = date(2026, 11, 27)
    for ago in (32, 31, 30, 1):
        session.add(
            AdoptionSnapshot(
                system_id=firm.id,
                local_date=today - timedelta(days=ago),
                **dict.fromkeys(("active_users", "with_mfa", "with_app"), 1),
                **dict.fromkeys(("with_passkey", "with_sso", "without_mfa"), 0),
            )
        )
    session.commit()
    with app.app_context():
        for _ in retention.steps(session, MORNING_IN_AUCKLAND, app.config):
            session.commit()
    # 30 days before the morning (20:00 UTC on 26 Nov) is 27 Oct: the day before goes.
    assert list(snapshots(session, firm)) == [
        today - timedelta(days=31),
        today - timedelta(days=30),
        today - timedelta(days=1),
    ]
