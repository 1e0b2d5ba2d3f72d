"""Sending the outbox: SMTP (or .eml files without a mail server), claimed row by row.

Each row is claimed with a conditional UPDATE before it is sent, so two
workers never send the same row, and its delivery state (attempts, next
attempt, last error) is kept on the row, so a failure is retried with
back-off and a row that keeps failing becomes visible as `failed`.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from webapp.models import EmailStatus, OutboundEmail, utcnow
from webapp.plain_text import has_control_characters

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)
# While a worker sends a row it is parked this long; a worker that dies
# mid-send leaves the row due again afterwards instead of lost.
SEND_LEASE = timedelta(minutes=10)
BATCH_SIZE = 500


class UnsafeHeader(ValueError):
    """A header value that would not stay one header line."""


def build_message(row: OutboundEmail, sender: str) -> EmailMessage:
    """A multipart/alternative message (plain text, then HTML) for an outbox row,
    dated when it is sent and identified under the site's own domain."""
    message = EmailMessage()
    for name, value in (("From", sender), ("To", row.recipient), ("Subject", row.subject)):
        if has_control_characters(value or ""):
            # Never a header split by CR/LF (a header injection): the row fails.
            raise UnsafeHeader(f"the {name} header holds a control character: {value!r}")
        message[name] = value
    message["Date"] = format_datetime(utcnow())
    domain = urlsplit(current_app.config["BASE_URL"]).hostname or "firmguard.local"
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain=domain)
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
    return claimed == 1


def record_sent(session: Session, row: OutboundEmail) -> None:
    row.status = EmailStatus.SENT.value
    row.sent_at = utcnow()
    row.last_error = None
    session.add(row)
    log.info("sent %s email %s to %s", row.kind, row.id, row.recipient)


def is_temporary(error: Exception) -> bool:
    """Whether another try may succeed: an SMTP 4xx answer, a dropped connection,
    a server out of reach. A 5xx answer (a recipient that does not exist, a
    message refused), a message that cannot be built, any other error: not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return any(code < 500 for code, _message in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code < 500
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return False  # e.g. an address that needs SMTPUTF8 the server lacks
    return isinstance(error, (OSError, smtplib.SMTPException))


def record_failure(
    session: Session, row: OutboundEmail, now: datetime, error: Exception, *, final: bool = False
) -> str:
    """Keep the row pending with a backed-off next attempt, or fail it when the
    error is `final` or after `MAX_ATTEMPTS`; returns the outcome ("retry" or
    "failed")."""
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    if final or row.attempts >= MAX_ATTEMPTS:
        row.status = EmailStatus.FAILED.value
        outcome = "failed"
    else:
        row.next_attempt_at = now + backoff(row.attempts)
        outcome = "retry"
    session.add(row)
    log.warning(
        "email %s to %s: %s (attempt %s)", row.id, row.recipient, row.last_error, row.attempts
    )
    return outcome


def deliver_due(session: Session, now: datetime | None = None, ids: Iterable[int] = ()) -> dict:
    """Send one batch of due outbox rows over one connection; returns counts by outcome.

    The delivery loop's unit of work is one row, not the batch: its claim is
    committed before the send (so no other worker sends it while this one
    does, and a worker that dies mid-send leaves it parked for its lease),
    and its outcome right after (so a crash later in the batch never forgets
    that it went out). A temporary SMTP error (4xx, a dropped connection)
    leaves the row pending with a backed-off next attempt (or failed after
    `MAX_ATTEMPTS`); any other error with a row (a 5xx refusal, a message that
    cannot be built) fails it at once, with its `last_error`, and the batch goes
    on. A server that cannot be reached at all counts as one failed attempt
    for every row of the batch.
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
            claimed = claim(session, row_id, now)
            session.commit()
            if not claimed:
                continue
            row = session.get(OutboundEmail, row_id)
            session.refresh(row)
            try:
                if transport is None:
                    raise connect_error
                transport.send(build_message(row, sender))
            except Exception as error:  # any: one bad row must not stop the batch
                # An unreachable server is the batch's problem, never the row's.
                final = transport is not None and not is_temporary(error)
                outcome = record_failure(session, row, now, error, final=final)
            else:
                record_sent(session, row)
                outcome = "sent"
            session.commit()
            counts[outcome] += 1
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
