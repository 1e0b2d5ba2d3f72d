"""invited users

Revision ID: 0016_invitations
Revises: 0015_mfa_methods
Create Date: 2026-12-01 02:00:00

An admin's "Add user" creates the user not active, with `invited_at` set
until they set their password (README, "Adding users").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import webapp.models

revision: str = "0016_invitations"
down_revision: str | Sequence[str] | None = "0015_mfa_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("invited_at", webapp.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("invited_at")
