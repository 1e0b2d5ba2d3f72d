"""SCIM provisioning: firms' bearer tokens and pushed groups, users' externalId and SCIM deletion

Revision ID: 0012_scim
Revises: 0011_passwords
Create Date: 2026-12-01 01:00:00

Tokens are stored as SHA-256 hashes, several per firm, with their last use
(README, "Provisioning (SCIM)"); their rate limit counts with the sign-in
limits' counter (failure_counts, or Redis). Users get
the identity provider's `externalId` (indexed by firm for the `externalId eq`
filter) and the time a SCIM client deleted them (deactivated, row kept).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0012_scim"
down_revision: str | Sequence[str] | None = "0011_passwords"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_scim_tokens_system_id_systems")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_scim_tokens_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_tokens_token_hash")),
    )
    op.create_index(op.f("ix_scim_tokens_system_id"), "scim_tokens", ["system_id"])
    op.create_table(
        "scim_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_scim_groups_system_id_systems")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_groups")),
        sa.UniqueConstraint("system_id", "display_name", name=op.f("uq_scim_groups_system_id")),
    )
    op.create_table(
        "scim_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["scim_groups.id"], name=op.f("fk_scim_group_members_group_id_scim_groups")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_scim_group_members_user_id_users")
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_scim_group_members")),
    )
    op.create_index(
        op.f("ix_scim_group_members_user_id"), "scim_group_members", ["user_id"]
    )
    # Plain ALTER TABLE ADD COLUMN (no batch copy): SQLite keeps the users
    # table, and so its search index's triggers (webapp/user_search.py).
    op.add_column("users", sa.Column("external_id", sa.String(length=255), nullable=True))
    op.add_column(
        "users",
        sa.Column("deprovisioned_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_users_system_external_id", "users", ["system_id", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_users_system_external_id", table_name="users")
    op.drop_column("users", "deprovisioned_at")
    op.drop_column("users", "external_id")
    op.drop_index(op.f("ix_scim_group_members_user_id"), table_name="scim_group_members")
    op.drop_table("scim_group_members")
    op.drop_table("scim_groups")
    op.drop_index(op.f("ix_scim_tokens_system_id"), table_name="scim_tokens")
    op.drop_table("scim_tokens")
