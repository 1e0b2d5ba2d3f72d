"""The tables that grow with time, each bounded by its retention (README,
"Retention"): the audit log and the outbox. `webapp.models` re-exports them.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import days, expires
from webapp.model_base import utc_column, utcnow


@expires(
    "audit events",
    lambda row, now, settings: row.created_at < now - days(settings["AUDIT_RETENTION_DAYS"]),
)
class AuditEvent(SQLModel, table=True):
    """Append-only record of security-relevant actions, kept AUDIT_RETENTION_DAYS."""

    __tablename__ = "audit_events"

    __table_args__ = (
        sa.Index("ix_audit_events_system_created", "system_id", "created_at"),
        sa.Index("ix_audit_events_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id")
    actor_id: int | None = Field(default=None, foreign_key="users.id")
    subject_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    action: str = Field(max_length=64, index=True)
    details: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry cap; kept until an operator acts
    DISCARDED = "discarded"  # an operator gave up on it (`outbox discard`)


# Done with: sent, or given up by an operator. Failed rows wait for one.
FINISHED_EMAIL = (EmailStatus.SENT.value, EmailStatus.DISCARDED.value)
UNFINISHED_EMAIL = tuple(status.value for status in EmailStatus if status not in FINISHED_EMAIL)
# Literal SQL, so SQLite sees the partial index's own condition in the query.
BODY_KEPT = "body_text <> ''"


@expires(
    "sent emails",
    lambda row, now, settings: sa.and_(
        row.status.in_(FINISHED_EMAIL),
        row.created_at < now - days(settings["OUTBOX_ROW_DAYS"]),
    ),
)
@expires(
    "sent emails' content",
    # Status as NOT IN, which no index serves: the rows are looked up in the
    # partial index of rows with bodies, never among a year of cleared ones.
    lambda row, now, settings: sa.and_(
        sa.text(BODY_KEPT),
        row.created_at < now - days(settings["OUTBOX_BODY_DAYS"]),
        row.status.not_in(UNFINISHED_EMAIL),
    ),
    # The content goes (subject too: it names the firm and its figures); what
    # stays is who was sent what kind of email when, and its dedupe key.
    clear={"subject": "", "body_text": "", "body_html": ""},
)
class OutboundEmail(SQLModel, table=True):
    """The outbox: every email is a row first, so sending is idempotent and retryable.

    Its subject and bodies go after OUTBOX_BODY_DAYS, the row (metadata and
    dedupe key) after OUTBOX_ROW_DAYS; failed rows stay until an operator acts.
    """

    __tablename__ = "outbound_emails"

    __table_args__ = (
        sa.Index("ix_outbound_emails_status_next", "status", "next_attempt_at"),
        # The backlog (oldest pending, failed count) and the rows' retention.
        sa.Index("ix_outbound_emails_status_created", "status", "created_at"),
        # The bodies' retention: only rows that still have them.
        sa.Index(
            "ix_outbound_emails_with_bodies",
            "created_at",
            postgresql_where=sa.text(BODY_KEPT),
            sqlite_where=sa.text(BODY_KEPT),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    system_id: int | None = Field(default=None, foreign_key="systems.id", index=True)
    kind: str = Field(max_length=40)
    recipient: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    body_html: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    run_date: date = Field(default_factory=lambda: utcnow().date())
    dedupe_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    status: str = Field(default=EmailStatus.PENDING.value, max_length=10)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
