"""Retention: each policy at its limit, on both databases, with the clock moved
instead of waiting; bounded batches, idempotent runs, two workers at once,
the dedupe key outliving the bodies, and the settings the app refuses."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from tests import mfa_support
from tests.heads_up_helpers import add_admin, outbox, set_rule, tick
from webapp import create_app, retention
from webapp.expiry import REGISTRY
from webapp.models import (
    AuditEvent,
    EmailStatus,
    OutboundEmail,
    PendingSignIn,
    SsoAttempt,
    TotpCredential,
    utcnow,
)
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def email(session, key: str, status: EmailStatus, age: timedelta, **fields) -> OutboundEmail:
    now = utcnow()
    row = OutboundEmail(
        kind="reminder",
        recipient=f"{key}@example.com",
        subject="Please set up MFA",
        body_text="text body",
        body_html="<p>html body</p>",
        dedupe_key=key,
        status=status.value,
        attempts=1,
        created_at=now - age,
        next_attempt_at=now - age,
        sent_at=now - age if status == EmailStatus.SENT else None,
        **fields,
    )
    session.add(row)
    session.commit()
    return row


def audit_event(session, system_id: int, age: timedelta, name: str) -> AuditEvent:
    event = AuditEvent(
        system_id=system_id, action="signin.succeeded", details={"name": name}, created_at=utcnow() - age
    )
    session.add(event)
    session.commit()
    return event


def values(session, column) -> list:
    """A column's values, read afresh."""
    session.rollback()
    session.expire_all()
    return list(session.exec(select(column)))


def audit_names(session) -> set[str]:
    return {details["name"] for details in values(session, AuditEvent.details)}


def test_sent_emails_lose_their_bodies_after_30_days_and_their_rows_after_400(session, clock):
    email(session, "body-kept", EmailStatus.SENT, 30 * DAY)  # exactly at the limit
    email(session, "body-dropped", EmailStatus.SENT, 30 * DAY + SECOND)
    email(session, "row-kept", EmailStatus.SENT, 400 * DAY)
    email(session, "row-deleted", EmailStatus.SENT, 400 * DAY + SECOND)
    email(session, "discarded", EmailStatus.DISCARDED, 401 * DAY)
    email(session, "failed", EmailStatus.FAILED, 900 * DAY, last_error="SMTPDataError: 554")
    email(session, "pending", EmailStatus.PENDING, 31 * DAY)

    counts = run_retention.delay().get()

    assert (counts["sent emails' content"], counts["sent emails"]) == (4, 2)
    rows = {row.dedupe_key: row for row in outbox(session)}
    assert set(rows) == {"body-kept", "body-dropped", "row-kept", "failed", "pending"}
    with_bodies = {key for key, row in rows.items() if row.body_text and row.body_html}
    assert with_bodies == {"body-kept", "failed", "pending"}
    dropped = rows["body-dropped"]
    assert (dropped.subject, dropped.body_text, dropped.body_html) == ("", "", "")
    # What stays: kind, recipient, dedupe key, status, times and attempts.
    assert (dropped.kind, dropped.recipient, dropped.status, dropped.attempts) == (
        "reminder",
        "body-dropped@example.com",
        "sent",
        1,
    )
    assert dropped.sent_at == clock.now - 30 * DAY - SECOND
    assert rows["failed"].last_error == "SMTPDataError: 554"
    assert run_retention.delay().get() == dict.fromkeys(counts, 0)  # nothing left to do


@pytest.mark.parametrize(
    "app_overrides, limit",
    [({}, 2555 * DAY), ({"AUDIT_RETENTION_DAYS": 90}, 90 * DAY)],
    ids=["seven-years", "ninety-days"],
)
def test_audit_events_are_deleted_after_the_retention_period(session, factory, clock, limit):
    system = factory.system()
    audit_event(session, system.id, limit, "at the limit")
    audit_event(session, system.id, limit + SECOND, "past it")
    audit_event(session, system.id, DAY, "yesterday")

    assert run_retention.delay().get()["audit events"] == 1

    assert audit_names(session) == {"at the limit", "yesterday"}


def sso_trip(system_id: int, name: str, expires_at: datetime) -> SsoAttempt:
    return SsoAttempt(
        state_hash=name.ljust(64, "s"),
        browser_hash="b" * 64,
        system_id=system_id,
        purpose="sign_in",
        nonce="n",
        code_verifier="v",
        expires_at=expires_at,
    )


def test_expired_sign_in_steps_mfa_set_ups_and_sso_trips_are_deleted(session, factory, clock):
    users = [factory.user() for _ in range(5)]
    now = clock.now
    session.add_all(
        [
            sso_trip(users[0].system_id, "live", now + SECOND),
            sso_trip(users[0].system_id, "gone", now),
            PendingSignIn(token_hash="live".ljust(64, "0"), user_id=users[0].id, expires_at=now + SECOND),
            PendingSignIn(token_hash="gone".ljust(64, "0"), user_id=users[0].id, expires_at=now),
            PendingSignIn(
                token_hash="used".ljust(64, "0"),
                user_id=users[1].id,
                expires_at=now - SECOND,
                consumed_at=now - 60 * SECOND,
            ),
            TotpCredential(user_id=users[2].id, secret_encrypted="a", pending_expires_at=now + SECOND),
            TotpCredential(user_id=users[3].id, secret_encrypted="b", pending_expires_at=now - SECOND),
            TotpCredential(user_id=users[4].id, secret_encrypted="c", confirmed_at=now - 900 * DAY),
        ]
    )
    session.commit()

    counts = run_retention.delay().get()

    assert (counts["pending sign-ins"], counts["unconfirmed MFA set-ups"]) == (2, 1)
    assert counts["single sign-on trips"] == 1
    assert [value[:4] for value in values(session, SsoAttempt.state_hash)] == ["live"]
    hashes = values(session, PendingSignIn.token_hash)
    assert [value[:4] for value in hashes] == ["live"]
    assert sorted(values(session, TotpCredential.secret_encrypted)) == ["a", "c"]


@pytest.mark.parametrize("app_overrides", [{"RETENTION_BATCH_SIZE": 3}])
def test_each_statement_touches_one_bounded_batch(app, session, factory, clock):
    user = factory.user()
    for number in range(10):
        session.add(
            PendingSignIn(token_hash=f"{number}".ljust(64, "x"), user_id=user.id, expires_at=clock.now)
        )
    session.commit()

    with app.app_context():
        steps = []
        for step in retention.steps(session, utcnow(), app.config):
            session.commit()
            steps.append(step)

    assert [step.rows for step in steps if step.name == "pending sign-ins"] == [3, 3, 3, 1]
    assert {step.name for step in steps if step.rows == 0} == {
        expiry.name for expiry in REGISTRY
    } - {"pending sign-ins"}
    assert values(session, PendingSignIn.id) == []


@pytest.mark.parametrize("app_overrides", [{"OUTBOX_BODY_DAYS": 0}])
def test_a_digest_is_still_deduplicated_the_same_day_after_its_bodies_are_dropped(
    app, session, factory, clock
):
    morning = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 09:00 in Auckland
    clock.now = morning
    system = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    add_admin(session, system)
    set_rule(session, system, hour=9)
    assert tick(app, session, morning).digests == 1
    (digest,) = outbox(session, "heads_up")
    digest.status = EmailStatus.SENT.value
    session.commit()
    clock.advance(minutes=5)
    assert run_retention.delay().get()["sent emails' content"] == 1
    assert outbox(session, "heads_up")[0].body_text == ""

    # A second run the same local date (its claim lost, as a second beat
    # racing the first might): only the dedupe key stands in the way.
    set_rule(session, system, last_run_local_date=None)
    assert tick(app, session, clock.now).digests == 0
    assert len(outbox(session, "heads_up")) == 1


@pytest.mark.parametrize("app_overrides", [{"RETENTION_BATCH_SIZE": 4}])
def test_two_workers_running_retention_at_once_share_the_work(app, session, factory, clock):
    user = factory.user()
    now = clock.now
    for number in range(30):
        session.add(
            PendingSignIn(token_hash=f"{number}".ljust(64, "y"), user_id=user.id, expires_at=now)
        )
        email(session, f"old-{number}", EmailStatus.SENT, 500 * DAY)
        audit_event(session, user.system_id, 3000 * DAY, f"old-{number}")
    email(session, "recent", EmailStatus.SENT, DAY)
    audit_event(session, user.system_id, DAY, "recent")
    session.commit()

    barrier = threading.Barrier(2)
    results, errors = [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(run_retention.apply().get())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    done = {name: sum(result[name] for result in results) for name in results[0]}
    # Each row was deleted (or cleared) once, by one worker or the other.
    assert done["pending sign-ins"] == 30
    assert done["sent emails"] == 30
    assert done["audit events"] == 30
    assert done["sent emails' content"] <= 30
    assert [row.dedupe_key for row in outbox(session)] == ["recent"]
    assert audit_names(session) == {"recent"}
    assert values(session, PendingSignIn.id) == []


def test_the_retention_command_reports_what_it_deleted(app, session, factory, clock):
    user = factory.user()
    session.add(PendingSignIn(token_hash="z" * 64, user_id=user.id, expires_at=clock.now))
    session.commit()
    email(session, "old", EmailStatus.SENT, 401 * DAY)

    result = app.test_cli_runner().invoke(args=["retention", "run"])

    assert result.exit_code == 0, result.output
    assert "pending sign-ins: 1" in result.output
    assert "sent emails: 1" in result.output
    assert "audit events: 0" in result.output
    assert outbox(session) == []


@pytest.mark.parametrize(
    "settings, refusal",
    [
        ({"OUTBOX_ROW_DAYS": 7}, "reminders are deduplicated over 7 days"),
        ({"OUTBOX_ROW_DAYS": 30, "MFA_REMINDER_INTERVAL_DAYS": 30}, "over 30 days"),
        ({"OUTBOX_ROW_DAYS": 1, "MFA_REMINDER_INTERVAL_DAYS": 1}, "digests are deduplicated"),
        ({"OUTBOX_BODY_DAYS": -1}, "OUTBOX_BODY_DAYS must be a whole number"),
        ({"AUDIT_RETENTION_DAYS": "7 years"}, "AUDIT_RETENTION_DAYS must be a whole number"),
        ({"RETENTION_BATCH_SIZE": 0}, "RETENTION_BATCH_SIZE must be 1 or more"),
    ],
)
def test_retention_settings_that_would_lose_a_dedupe_key_are_refused(settings, refusal):
    with pytest.raises(RuntimeError, match=refusal):
        create_app("testing", {"DATABASE_URL": "sqlite://", **settings})


def test_the_shortest_outbox_row_period_above_every_window_is_accepted():
    app = create_app("testing", {"DATABASE_URL": "sqlite://", "OUTBOX_ROW_DAYS": 8})
    assert app.config["OUTBOX_ROW_DAYS"] == 8


def explain(session, statement) -> str:
    """The plan of `statement` (PostgreSQL told to avoid a sequential scan it could avoid)."""
    dialect = session.get_bind().dialect
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "sqlite":
        rows = session.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}")).all()
        return "\n".join(row[-1] for row in rows)
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    return "\n".join(row[0] for row in session.execute(sa.text(f"EXPLAIN {sql}")))


def test_every_expiry_is_found_through_an_index(app, session):
    for expiry in REGISTRY:
        statement = retention.batch_statement(
            expiry, utcnow(), app.config, session.get_bind().dialect.name
        )
        plan = explain(session, statement)
        table = expiry.model.__tablename__
        assert f"SCAN {table}\n" not in plan + "\n", f"{expiry.name}: {plan}"
        assert f"Seq Scan on {table}" not in plan, f"{expiry.name}: {plan}"
        assert f"ix_{table}_" in plan, f"{expiry.name}: {plan}"  # its own index
        session.rollback()
    # Bodies are looked up among the rows that still have them, never among
    # a year of rows already cleared.
    bodies = next(expiry for expiry in REGISTRY if expiry.clear)
    plan = explain(session, retention.batch_statement(bodies, utcnow(), app.config, "-"))
    assert "ix_outbound_emails_with_bodies" in plan
