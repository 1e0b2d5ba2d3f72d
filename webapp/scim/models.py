"""The provisioning tables (webapp.models re-exports them): a firm's SCIM bearer
tokens, and the groups its identity provider pushed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
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


class ScimGroup(SQLModel, table=True):
    """A group an identity provider pushed that is not one of the role groups.

    Kept as sent (name, externalId, members) so the provider reads back what it
    wrote; it gives its members no rights. The role groups ("Admins", "Users")
    are not rows: their members are the users with that role
    (`webapp.scim.groups`).
    """

    __tablename__ = "scim_groups"

    __table_args__ = (sa.UniqueConstraint("system_id", "display_name"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id")
    display_name: str = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class ScimGroupMember(SQLModel, table=True):
    """A user in a pushed group."""

    __tablename__ = "scim_group_members"

    group_id: int = Field(foreign_key="scim_groups.id", primary_key=True)
    user_id: int = Field(foreign_key="users.id", primary_key=True, index=True)
