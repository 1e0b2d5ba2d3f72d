"""The users-import table (webapp.models re-exports it): README, "Importing users"."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


@expires("user imports", lambda row, now, _: row.expires_at <= now)
class UserImport(SQLModel, table=True):
    """What an "Import users" preview found to do (invite, deactivate), kept
    between the preview and "Send invitations" so the file is not uploaded
    twice and what is done is what its admin saw. Used once (`consumed_at`),
    gone after an hour.
    """

    __tablename__ = "user_imports"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", index=True)
    admin_id: int = Field(foreign_key="users.id")
    # ["invite", email, display name, role] and ["deactivate", email] entries,
    # the invitations first (`webapp.admin.user_import.keep`).
    rows: list = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
