"""The sign-in limits' tables (webapp.models re-exports them): failure counts,
when the database keeps them, and the links through an account's lock."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


@expires("failure counts", lambda row, now, _: row.expires_at <= now)
class FailureCount(SQLModel, table=True):
    """One key's failures and lock (`webapp.limits.counters`), without Redis."""

    __tablename__ = "failure_counts"

    id: int | None = Field(default=None, primary_key=True)
    # "account:<hash of the email>" or "address:<scope>:<address>".
    key: str = Field(max_length=120, sa_column_kwargs={"unique": True})
    failures: int = Field(default=0)
    window_ends: datetime | None = Field(default=None, sa_column=utc_column())
    lock_number: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=utc_column())
    # When the count is over (its window and its lock both ended).
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    # Moves on with every write: a change is written only over what it read.
    version: int = Field(default=1)


@expires("sign-in unlock links", lambda row, now, _: row.expires_at <= now)
class SignInUnlock(SQLModel, table=True):
    """The link emailed with an account's lock: it lets the owner (their right
    password) through the lock once. The email holds a random token; the row
    stores its hash, expires, and allows a few wrong passwords before it is spent.
    """

    __tablename__ = "sign_in_unlocks"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="users.id", index=True)
    tries_left: int = Field(default=3)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
