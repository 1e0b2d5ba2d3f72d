"""The outbox: every email is written here first, then delivered by a job.

A unique dedupe key per email makes queuing idempotent (a repeated tick, a
retried task or a second beat process queue nothing new), and delivery state
on the row (attempts, next attempt, last error) makes failures retryable and
visible instead of lost (sending: `webapp.mail`). Queuing only writes rows in
the caller's transaction; their delivery is asked for once that transaction
commits (`webapp.delivery`), so a rolled-back transaction sends nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask import render_template
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from webapp.models import EmailStatus, OutboundEmail, System, User, UTCDateTime, utcnow

# session.info key: ids of the rows this transaction queued (for `webapp.delivery`).
QUEUED_IDS = "outbox_queued_ids"


def note_queued(session: Session, ids: Iterable[int]) -> None:
    """Remember rows queued in `session`'s transaction, for delivery after its commit."""
    session.info.setdefault(QUEUED_IDS, []).extend(ids)


def render_email(template: str, **context) -> tuple[str, str]:
    """Render `email/<template>.txt` and `.html` (autoescaped) with `context`."""
    return (
        render_template(f"email/{template}.txt", **context),
        render_template(f"email/{template}.html", **context),
    )


def email_row_values(
    *,
    kind: str,
    recipient: str,
    subject: str,
    template: str,
    dedupe_key: str,
    system_id: int | None = None,
    run_date: date | None = None,
    **context,
) -> dict:
    """The column values of one outbox row (rendered now, sent later)."""
    body_text, body_html = render_email(template, subject=subject, **context)
    now = utcnow()
    return {
        "kind": kind,
        "recipient": recipient,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "dedupe_key": dedupe_key,
        "system_id": system_id,
        "run_date": run_date or now.date(),
        "status": EmailStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_rows(session: Session, rows: list[dict]) -> list[int]:
    """Insert outbox rows, skipping any whose dedupe key exists; return new ids."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboundEmail)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboundEmail.id)
    )
    ids = list(session.scalars(statement))
    note_queued(session, ids)
    return ids


@dataclass(frozen=True)
class SystemEmail:
    """One system's email, addressed to many of its users by `insert_per_user`."""

    subject: str
    body: tuple[str, str]  # (text, html)
    run_date: date
    # Each user's dedupe key is "{dedupe_prefix}{user id}{dedupe_suffix}".
    dedupe_prefix: str
    dedupe_suffix: str


def insert_per_user(
    session: Session, *, kind: str, now: datetime, emails: dict[int, SystemEmail], where
) -> list[tuple[int, int]]:
    """Queue one email per user matched by `where`, in one INSERT … SELECT.

    `emails` maps a system id to its email; each user gets their own system's
    (so nobody ever receives another system's email). The rows never travel
    through Python, so statements and memory stay flat however many users
    match. Returns (outbox id, system id) of the rows inserted; keys queued
    before are skipped.
    """
    if not emails:
        return []

    def per_system(value, type_):
        return sa.case(
            {system_id: sa.literal(value(email), type_) for system_id, email in emails.items()},
            value=User.system_id,
        )

    columns = {
        "kind": sa.literal(kind),
        "recipient": User.email,
        "subject": per_system(lambda email: email.subject, sa.String),
        "body_text": per_system(lambda email: email.body[0], sa.Text),
        "body_html": per_system(lambda email: email.body[1], sa.Text),
        "run_date": per_system(lambda email: email.run_date, sa.Date),
        "dedupe_key": per_system(lambda email: email.dedupe_prefix, sa.String)
        + sa.cast(User.id, sa.String)
        + per_system(lambda email: email.dedupe_suffix, sa.String),
        "system_id": User.system_id,
        "status": sa.literal(EmailStatus.PENDING.value),
        "attempts": sa.literal(0),
        "next_attempt_at": sa.literal(now, UTCDateTime()),
        "created_at": sa.literal(now, UTCDateTime()),
    }
    query = sa.select(*(value.label(name) for name, value in columns.items())).where(
        User.system_id.in_(list(emails)), where
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = OutboundEmail.__table__
    statement = (
        insert(table)
        .from_select(list(columns), query)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(table.c.id, table.c.system_id)
    )
    inserted = [(outbox_id, system_id) for outbox_id, system_id in session.execute(statement)]
    note_queued(session, [outbox_id for outbox_id, _ in inserted])
    return inserted


def queue_email(session: Session, **fields) -> int | None:
    """Queue one email (see `email_row_values`); None if its dedupe key was queued before.

    The template also gets its firm's `timezone` (for `firm_time`) and `firm_name`
    (the layout's header), from `system_id`.
    """
    if fields.get("system_id") is not None:
        system = session.get(System, fields["system_id"])
        fields.setdefault("timezone", system.timezone)
        fields.setdefault("firm_name", system.name)
    ids = insert_rows(session, [email_row_values(**fields)])
    return ids[0] if ids else None


def queue_user_email(session: Session, user: User, **fields) -> int | None:
    """Queue one email to `user` (`queue_email`): their address, in their firm's
    frame, with `user` in the template."""
    return queue_email(session, recipient=user.email, system_id=user.system_id, user=user, **fields)


@dataclass(frozen=True)
class Backlog:
    """What operators watch: how long the oldest unsent email has waited, and
    how many gave up (`failed`: kept until `outbox retry` or `outbox discard`)."""

    oldest_pending_seconds: int | None
    failed: int

    def as_dict(self) -> dict:
        return {"oldest_pending_seconds": self.oldest_pending_seconds, "failed": self.failed}


def backlog(session: Session | sa.Connection, now: datetime) -> Backlog:
    """The backlog in one statement, both figures from the (status, created_at) index."""
    oldest, failed = session.execute(
        sa.select(
            sa.select(sa.func.min(OutboundEmail.created_at))
            .where(OutboundEmail.status == EmailStatus.PENDING.value)
            .scalar_subquery(),
            sa.select(sa.func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.status == EmailStatus.FAILED.value)
            .scalar_subquery(),
        )
    ).one()
    age = None if oldest is None else max(int((now - oldest).total_seconds()), 0)
    return Backlog(age, failed)


def failed_rows(session: Session, limit: int) -> list[OutboundEmail]:
    """The failed rows, oldest first."""
    return list(
        session.scalars(
            sa.select(OutboundEmail)
            .where(OutboundEmail.status == EmailStatus.FAILED.value)
            .order_by(OutboundEmail.created_at, OutboundEmail.id)
            .limit(limit)
        )
    )


def _failed(ids: Iterable[int] | None):
    condition = OutboundEmail.status == EmailStatus.FAILED.value
    return condition if ids is None else sa.and_(condition, OutboundEmail.id.in_(list(ids)))


def retry_failed(session: Session, now: datetime, ids: Iterable[int] | None = None) -> list[int]:
    """Make failed rows (`ids`, or all) pending again with fresh attempts; their
    delivery is asked for once the caller commits. Returns their ids."""
    retried = list(
        session.scalars(
            sa.update(OutboundEmail)
            .where(_failed(ids))
            .values(status=EmailStatus.PENDING.value, attempts=0, next_attempt_at=now)
            .returning(OutboundEmail.id)
        )
    )
    note_queued(session, retried)
    return retried


def discard_failed(session: Session, ids: Iterable[int] | None = None) -> list[int]:
    """Give up on failed rows (`ids`, or all): `discarded` keeps the row, and its
    dedupe key, until retention deletes it like a sent one. Returns their ids."""
    return list(
        session.scalars(
            sa.update(OutboundEmail)
            .where(_failed(ids))
            .values(status=EmailStatus.DISCARDED.value)
            .returning(OutboundEmail.id)
        )
    )
