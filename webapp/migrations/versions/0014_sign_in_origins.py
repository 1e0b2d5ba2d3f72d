"""sign-in origins (the new sign-in notice)

Revision ID: 0014_sign_in_origins
Revises: 0013_browser_sessions
Create Date: 2026-12-01 03:00:00

One row per browser and address pair a user signed in from (README,
"Sessions"): the user, a hash of the pair (unique per user: the sign-in's one
lookup) and when it was last seen (retention deletes rows unseen for 90 days,
by its index).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0014_sign_in_origins"
down_revision: str | Sequence[str] | None = "0013_browser_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_origins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("origin_key", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sign_in_origins_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_origins")),
        sa.UniqueConstraint("user_id", "origin_key", name=op.f("uq_sign_in_origins_user_id")),
    )
    op.create_index("ix_sign_in_origins_last_seen_at", "sign_in_origins", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_origins_last_seen_at", table_name="sign_in_origins")
    op.drop_table("sign_in_origins")
