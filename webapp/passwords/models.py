"""The password-token table (webapp.models re-exports it): README, "Passwords"."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


@expires("password links", lambda row, now, _: row.expires_at <= now)
class PasswordToken(SQLModel, table=True):
    """An emailed link that lets its holder set the user's password once
    ("Set a new password" after "Forgot your password?"; an invitation's
    "Set your password"). The email holds a random token; the row stores its
    hash. A newer link of the same purpose, and any password change, use up
    every live one of the user (`consumed_at`)."""

    __tablename__ = "password_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="users.id", index=True)
    purpose: str = Field(max_length=20)  # a `webapp.passwords.tokens.Purpose` value
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
