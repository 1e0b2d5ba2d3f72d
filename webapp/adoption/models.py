"""The adoption snapshot table (webapp.models re-exports it)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import days, expires
from webapp.model_base import utc_column, utcnow


class SnapshotSource(StrEnum):
    DAILY = "daily"  # counted by the daily run
    AUDIT_LOG = "audit_log"  # replayed from the audit log (days before the first daily one)


# A summary of the audit log's history, kept as long as the log (README, "Retention").
@expires(
    "adoption snapshots",
    lambda row, now, settings: (
        row.local_date < (now - days(settings["AUDIT_RETENTION_DAYS"])).date()
    ),
)
class AdoptionSnapshot(SQLModel, table=True):
    """One firm's MFA adoption on one of its local dates.

    The unique (system_id, local_date) is the index the panel reads its 90
    days from, and makes a second snapshot of the same day impossible. Counts
    are of active users. Methods overlap (a user with the app and a passkey
    counts in both); `with_mfa` counts each user once. A backfilled day leaves
    what the log cannot tell as None.
    """

    __tablename__ = "adoption_snapshots"

    __table_args__ = (
        sa.UniqueConstraint("system_id", "local_date", name="uq_adoption_snapshots_system_date"),
        # Retention finds the old ones by date, for every firm at once.
        sa.Index("ix_adoption_snapshots_local_date", "local_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id")
    local_date: date
    active_users: int
    with_mfa: int
    with_app: int
    with_passkey: int
    # Users whose last sign-in was the firm's single sign-on, where the firm counts it.
    with_sso: int
    without_mfa: int
    past_deadline: int | None = Field(default=None)
    source: str = Field(default=SnapshotSource.DAILY.value, max_length=10)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
