"""The outbox: every email is written here first, then delivered by a job.

A unique dedupe key per email makes queuing idempotent (a repeated tick, a
retried task or a second beat process queue nothing new), and delivery state
on the row (attempts, next attempt, last error) makes failures retryable and
visible instead of lost.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, render_template
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from webapp import timefmt
from webapp.models import EmailStatus, OutboundEmail, User, UTCDateTime, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)
# While a worker sends a row it is parked this long; a worker that dies
# mid-send leaves the row due again afterwards instead of lost.
SEND_LEASE = timedelta(minutes=10)
BATCH_SIZE = 500


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
    return list(session.scalars(statement))


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
    return [(outbox_id, system_id) for outbox_id, system_id in session.execute(statement)]


def queue_email(session: Session, **fields) -> int | None:
    """Queue one email (see `email_row_values`); None if its dedupe key was queued before.

    The template also gets `timezone`, its firm's (from `system_id`), for `firm_time`.
    """
    if fields.get("system_id") is not None:
        fields.setdefault("timezone", timefmt.timezone_of(session, fields["system_id"]))
    ids = insert_rows(session, [email_row_values(**fields)])
    return ids[0] if ids else None


def request_delivery(ids: Iterable[int | None] = ()) -> None:
    """Ask the job queue to deliver these rows now (after the caller committed).

    `ids` may hold the None that `queue_email` returns for a deduplicated email;
    those are skipped. A broker outage must not fail the user's request: the rows
    stay pending and the next outbox sweep (every minute, see `jobs.schedule`)
    delivers them.
    """
    from jobs.mail import deliver_outbox

    ids = [row_id for row_id in ids if row_id is not None]
    # No ids: deliver whatever is due. Many ids: one task per sending batch.
    batches = [ids[start : start + BATCH_SIZE] for start in range(0, len(ids), BATCH_SIZE)]
    try:
        for batch in batches or [[]]:
            deliver_outbox.delay(batch)
    except Exception:  # noqa: BLE001 - any broker error; the sweep retries
        log.warning("could not enqueue outbox delivery; the sweep will retry", exc_info=True)


def build_message(row: OutboundEmail, sender: str) -> EmailMessage:
    """A multipart/alternative message (plain text and HTML) for an outbox row."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}")
    message.set_content(row.body_text)
    message.add_alternative(row.body_html, subtype="html")
    return message


class FileTransport:
    """Writes each message as an .eml file: the developer's mailbox (no MAIL_SERVER)."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage) -> None:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{message['Message-ID'].strip('<>').split('@')[0]}.eml"
        (self.directory / name).write_bytes(bytes(message))


class SmtpTransport:
    """One SMTP connection, reused for a batch of messages."""

    def __init__(self, config) -> None:
        self.smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
        if config["MAIL_USE_TLS"]:
            self.smtp.starttls()
        if config["MAIL_USERNAME"]:
            self.smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])

    def send(self, message: EmailMessage) -> None:
        self.smtp.send_message(message)

    def close(self) -> None:
        try:
            self.smtp.quit()
        except smtplib.SMTPException:
            self.smtp.close()


@contextmanager
def open_transport() -> Iterator[FileTransport | SmtpTransport]:
    """The configured transport: SMTP when MAIL_SERVER is set, else .eml files."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        yield FileTransport(config["MAIL_FILE_DIR"])
        return
    transport = SmtpTransport(config)
    try:
        yield transport
    finally:
        transport.close()


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 1, 2, 4 … minutes, capped at two hours."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def due_ids(
    session: Session, now: datetime, ids: Iterable[int] = (), limit: int = BATCH_SIZE
) -> list[int]:
    """Ids of pending rows due now (restricted to `ids` when given)."""
    query = select(OutboundEmail.id).where(
        OutboundEmail.status == EmailStatus.PENDING.value,
        OutboundEmail.next_attempt_at <= now,
    )
    ids = list(ids)
    if ids:
        query = query.where(OutboundEmail.id.in_(ids))
    return list(session.exec(query.order_by(OutboundEmail.id).limit(limit)))


def claim(session: Session, row_id: int, now: datetime) -> bool:
    """Take a row for sending with a conditional UPDATE, so that two workers
    never send the same row: the one whose UPDATE moved it wins.
    """
    claimed = session.execute(
        sa.update(OutboundEmail)
        .where(
            OutboundEmail.id == row_id,
            OutboundEmail.status == EmailStatus.PENDING.value,
            OutboundEmail.next_attempt_at <= now,
        )
        .values(
            attempts=OutboundEmail.attempts + 1,
            next_attempt_at=now + SEND_LEASE,
        )
    ).rowcount
    session.commit()
    return claimed == 1


def deliver_due(session: Session, now: datetime | None = None, ids: Iterable[int] = ()) -> dict:
    """Send one batch of due outbox rows over one connection; returns counts by outcome.

    Each row is claimed first, so a row is never sent by two workers. An SMTP
    error leaves the row pending with a backed-off next attempt (or failed
    after `MAX_ATTEMPTS`); a server that cannot be reached at all counts as
    one failed attempt for every row of the batch.
    """
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    row_ids = due_ids(session, now, ids)
    if not row_ids:
        return counts
    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    with ExitStack() as stack:
        try:
            transport = stack.enter_context(open_transport())
        except (OSError, smtplib.SMTPException) as error:
            log.warning("mail server unavailable: %s", error)
            transport, connect_error = None, error
        for row_id in row_ids:
            if not claim(session, row_id, now):
                continue
            row = session.get(OutboundEmail, row_id)
            session.refresh(row)
            try:
                if transport is None:
                    raise connect_error
                transport.send(build_message(row, sender))
            except (OSError, smtplib.SMTPException) as error:
                counts[_record_failure(session, row, now, error)] += 1
                continue
            row.status = EmailStatus.SENT.value
            row.sent_at = utcnow()
            row.last_error = None
            session.add(row)
            session.commit()
            counts["sent"] += 1
            log.info("sent %s email %s to %s", row.kind, row.id, row.recipient)
    return counts


def sweep(session: Session, now: datetime | None = None) -> dict:
    """Deliver every due row, batch after batch (the periodic outbox sweep)."""
    now = now or utcnow()
    totals = {"sent": 0, "retry": 0, "failed": 0}
    while True:
        counts = deliver_due(session, now)
        if not any(counts.values()):
            return totals
        for outcome, number in counts.items():
            totals[outcome] += number


def _record_failure(session: Session, row: OutboundEmail, now: datetime, error: Exception) -> str:
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        row.status = EmailStatus.FAILED.value
        outcome = "failed"
    else:
        row.next_attempt_at = now + backoff(row.attempts)
        outcome = "retry"
    session.add(row)
    session.commit()
    log.warning(
        "email %s to %s: %s (attempt %s)", row.id, row.recipient, row.last_error, row.attempts
    )
    return outcome
