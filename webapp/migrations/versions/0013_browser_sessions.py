"""browser sessions ("Where you're signed in")

Revision ID: 0013_browser_sessions
Revises: 0012_scim
Create Date: 2026-12-01 02:00:00

One row per signed-in browser (README, "Sessions"): its user, session version,
user agent, address, sign-in and last activity (retention deletes it once idle
or past the absolute timeout, by their indexes) and when it was signed out.
A step-up proof names the browser session it was given in, so signing that
one out ends its proof.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0013_browser_sessions"
down_revision: str | Sequence[str] | None = "0012_scim"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_browser_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_sessions")),
    )
    op.create_index("ix_browser_sessions_user_id", "browser_sessions", ["user_id"])
    op.create_index("ix_browser_sessions_created_at", "browser_sessions", ["created_at"])
    op.create_index("ix_browser_sessions_last_active_at", "browser_sessions", ["last_active_at"])
    op.add_column("step_up_proofs", sa.Column("browser_session_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_step_up_proofs_browser_session_id", "step_up_proofs", ["browser_session_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_step_up_proofs_browser_session_id", table_name="step_up_proofs")
    with op.batch_alter_table("step_up_proofs") as batch:
        batch.drop_column("browser_session_id")
    op.drop_index("ix_browser_sessions_last_active_at", table_name="browser_sessions")
    op.drop_index("ix_browser_sessions_created_at", table_name="browser_sessions")
    op.drop_index("ix_browser_sessions_user_id", table_name="browser_sessions")
    op.drop_table("browser_sessions")
