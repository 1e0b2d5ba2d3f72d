"""users imports (the preview between "Import users" and "Send invitations")

Revision ID: 0017_user_imports
Revises: 0016_invitations
Create Date: 2026-12-01 04:00:00

One row per "Import users" preview: the new people it found, as JSON, kept
for an hour (retention deletes it then, by its index) and used once by
"Send invitations" (README, "Importing users").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0017_user_imports"
down_revision: str | Sequence[str] | None = "0016_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system_id", sa.Integer(), nullable=False),
        sa.Column("admin_id", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", webapp.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", webapp.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["system_id"], ["systems.id"], name=op.f("fk_user_imports_system_id_systems")
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["users.id"], name=op.f("fk_user_imports_admin_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_imports")),
    )
    op.create_index("ix_user_imports_system_id", "user_imports", ["system_id"])
    op.create_index("ix_user_imports_expires_at", "user_imports", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_user_imports_expires_at", table_name="user_imports")
    op.drop_index("ix_user_imports_system_id", table_name="user_imports")
    op.drop_table("user_imports")
