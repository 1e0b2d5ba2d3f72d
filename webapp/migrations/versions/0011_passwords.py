"""password links (reset, invitation)

Revision ID: 0011_passwords
Revises: 0010_step_up
Create Date: 2026-12-01 02:00:00

One row per emailed link that sets a password once (README, "Passwords"):
the hash of its token, the user, its purpose, when it expires (retention
deletes it then, by its index) and when it was used up.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0011_passwords"
down_revision: str | Sequence[str] | None = "0010_step_up"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_tokens_token_hash")),
    )
    op.create_index("ix_password_tokens_user_id", "password_tokens", ["user_id"])
    op.create_index("ix_password_tokens_expires_at", "password_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_password_tokens_expires_at", table_name="password_tokens")
    op.drop_index("ix_password_tokens_user_id", table_name="password_tokens")
    op.drop_table("password_tokens")
