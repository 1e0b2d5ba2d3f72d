"""The provisioning table (webapp.models re-exports it): a firm's SCIM bearer tokens."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from webapp.model_base import utc_column, utcnow


class ScimToken(SQLModel, table=True):
    """A bearer token an identity provider provisions one firm's users with.

    Only the token's SHA-256 is stored (it is 256 random bits, so a plain hash
    suffices, as for the pending sign-in tokens); the admin sees it once. A
    revoked token is kept, named in the audit log, and never authenticates again.
    """

    __tablename__ = "scim_tokens"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())
    # The rate limit's counter when there is no Redis: requests in the minute
    # that started at window_started_at (one conditional UPDATE per request).
    window_started_at: datetime | None = Field(default=None, sa_column=utc_column())
    window_count: int = Field(default=0)
