"""adoption snapshots, and the users indexes of the adoption panel

Revision ID: 0007_adoption
Revises: 0006_retention
Create Date: 2026-12-01 09:00:00

One row per firm and local date, written by the daily run (README, "Adoption
panel"); the panel reads 90 of them by its unique (firm, date) index, retention
finds old ones by date. Two indexes on users let the panel
count users past their enrolment deadline, not reminded today, and locked out,
without reading the users table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0007_adoption"
down_revision: str | Sequence[str] | None = "0006_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USER_INDEXES = {
    "ix_users_system_enrolment": (
        "system_id",
        "active",
        "mfa_enabled",
        "mfa_deadline",
        "last_mfa_reminder_at",
    ),
    "ix_users_system_locked": ("system_id", "mfa_locked_until"),
}


def upgrade() -> None:
    op.create_table(
        "adoption_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("active_users", sa.Integer(), nullable=False),
        sa.Column("with_mfa", sa.Integer(), nullable=False),
        sa.Column("with_app", sa.Integer(), nullable=False),
        sa.Column("with_passkey", sa.Integer(), nullable=False),
        sa.Column("with_sso", sa.Integer(), nullable=False),
        sa.Column("without_mfa", sa.Integer(), nullable=False),
        sa.Column("past_deadline", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_adoption_snapshots_system_id_systems")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adoption_snapshots")),
        sa.UniqueConstraint("system_id", "local_date", name="uq_adoption_snapshots_system_date"),
    )
    op.create_index("ix_adoption_snapshots_local_date", "adoption_snapshots", ["local_date"])
    for name, columns in USER_INDEXES.items():
        op.create_index(name, "users", list(columns))


def downgrade() -> None:
    for name in reversed(USER_INDEXES):
        op.drop_index(name, table_name="users")
    op.drop_index("ix_adoption_snapshots_local_date", table_name="adoption_snapshots")
    op.drop_table("adoption_snapshots")
