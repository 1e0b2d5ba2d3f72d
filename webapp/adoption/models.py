"""The adoption snapshot table (webapp.models re-exports it)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from webapp.model_base import utc_column, utcnow


class SnapshotSource(StrEnum):
    DAILY = "daily"  # counted by the daily run
    AUDIT_LOG = "audit_log"  # replayed from the audit log (days before the first daily one)


class AdoptionSnapshot(SQLModel, table=True):
    """One firm's MFA adoption on one of its local dates.

    The primary key (system_id, local_date) is the index the panel reads its
    90 days from, and makes a second snapshot of the same day impossible.
    Counts are of active users. Methods overlap (a user with the app and a
    passkey counts in both); `with_mfa` counts each user once. A backfilled
    day leaves what the log cannot tell as None.
    """

    __tablename__ = "adoption_snapshots"

    system_id: int = Field(foreign_key="systems.id", primary_key=True)
    local_date: date = Field(primary_key=True)
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
