"""passkeys (WebAuthn credentials) and their ceremonies' challenges

Revision ID: 0008_passkeys
Revises: 0007_adoption
Create Date: 2026-12-01 01:00:00

A user's passkeys, found by credential id (unique) at sign-in and by user on
My Profile; public keys as bytes. Challenges live 5 minutes and are deleted
by the retention run, which finds them by their expiry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0008_passkeys"
down_revision: str | Sequence[str] | None = "0007_adoption"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("aaguid", sa.String(length=36), nullable=False),
        sa.Column("user_verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_passkeys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_passkeys_user_id"), "passkeys", ["user_id"])
    op.create_table(
        "passkey_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("ceremony", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("user_handle", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_passkey_challenges_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_challenges")),
        sa.UniqueConstraint("browser_hash", name=op.f("uq_passkey_challenges_browser_hash")),
    )
    op.create_index(
        op.f("ix_passkey_challenges_expires_at"), "passkey_challenges", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_passkey_challenges_expires_at"), table_name="passkey_challenges")
    op.drop_table("passkey_challenges")
    op.drop_index(op.f("ix_passkeys_user_id"), table_name="passkeys")
    op.drop_table("passkeys")
