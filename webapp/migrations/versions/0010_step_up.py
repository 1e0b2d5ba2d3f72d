"""step-up proofs ("Confirm it's you")

Revision ID: 0010_step_up
Revises: 0009_failure_counts
Create Date: 2026-12-01 01:00:00

One row per proof given in a browser session (README, "Step-up"): the hash of
the token the session holds, the user and session version it belongs to, and
when it stops counting (retention deletes it then, by its index).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0010_step_up"
down_revision: str | Sequence[str] | None = "0009_failure_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "step_up_proofs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("proved_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_step_up_proofs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_proofs")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_step_up_proofs_token_hash")),
    )
    op.create_index("ix_step_up_proofs_user_id", "step_up_proofs", ["user_id"])
    op.create_index("ix_step_up_proofs_expires_at", "step_up_proofs", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_step_up_proofs_expires_at", table_name="step_up_proofs")
    op.drop_index("ix_step_up_proofs_user_id", table_name="step_up_proofs")
    op.drop_table("step_up_proofs")
