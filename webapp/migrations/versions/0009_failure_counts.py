"""failure counts (without Redis) and the links through an account's lock

Revision ID: 0009_failure_counts
Revises: 0008_passkeys
Create Date: 2026-12-01 01:00:00

The sign-in limits count failures per account and per address (README,
"Sign-in limits"): in Redis when it is configured, else in `failure_counts`.
`sign_in_unlocks` holds the hashes of the single-use links emailed with an
account's lock. Retention deletes both once they expire.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0009_failure_counts"
down_revision: str | Sequence[str] | None = "0008_passkeys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "failure_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_ends", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lock_number", sa.Integer(), nullable=False),
        sa.Column("locked_until", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failure_counts")),
        sa.UniqueConstraint("key", name=op.f("uq_failure_counts_key")),
    )
    op.create_index("ix_failure_counts_expires_at", "failure_counts", ["expires_at"])
    op.create_table(
        "sign_in_unlocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("tries_left", sa.Integer(), nullable=False),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_unlocks_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_unlocks")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_unlocks_token_hash")),
    )
    op.create_index("ix_sign_in_unlocks_expires_at", "sign_in_unlocks", ["expires_at"])
    op.create_index("ix_sign_in_unlocks_user_id", "sign_in_unlocks", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_unlocks_user_id", table_name="sign_in_unlocks")
    op.drop_index("ix_sign_in_unlocks_expires_at", table_name="sign_in_unlocks")
    op.drop_table("sign_in_unlocks")
    op.drop_index("ix_failure_counts_expires_at", table_name="failure_counts")
    op.drop_table("failure_counts")
