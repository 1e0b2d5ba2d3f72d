"""The browser sessions table (webapp.models re-exports it): README, "Sessions"."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow

# `last_active_at` moves on at most once a minute (a request stays cheap), so
# the idle timeout here allows that minute on top of the cookie's own.
ACTIVITY_STEP = timedelta(minutes=1)


def idle_limit(settings: Mapping) -> timedelta:
    return settings["PERMANENT_SESSION_LIFETIME"] + ACTIVITY_STEP


@expires(
    "browser sessions",
    lambda row, now, settings: sa.or_(
        row.last_active_at <= now - idle_limit(settings),
        row.created_at <= now - settings["SESSION_ABSOLUTE_LIFETIME"],
    ),
)
class BrowserSession(SQLModel, table=True):
    """One signed-in browser: its signed session cookie names this row.

    Live while not ended, under the user's current session version (sign-out,
    a new password, an MFA reset move it on and so end every row at once), and
    within the idle and absolute timeouts. Ended rows are purged once idle.
    """

    __tablename__ = "browser_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    session_version: int
    user_agent: str = Field(default="", max_length=512)
    address: str = Field(default="", max_length=64)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column(nullable=False, index=True)
    )
    last_active_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column(nullable=False, index=True)
    )
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())


# A browser and address pair unseen this long is new again (README, "Sessions").
ORIGIN_MEMORY = timedelta(days=90)


@expires("sign-in origins", lambda row, now, settings: row.last_seen_at <= now - ORIGIN_MEMORY)
class SignInOrigin(SQLModel, table=True):
    """A browser (family and OS) and address pair a user signed in from: a
    sign-in from a pair not here is new, and emailed about."""

    __tablename__ = "sign_in_origins"
    # The one lookup of a sign-in, and what makes two racing inserts one.
    __table_args__ = (sa.UniqueConstraint("user_id", "origin_key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    # sha256 of "browser on OS" and the address: no raw address kept here.
    origin_key: str = Field(max_length=64)
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
