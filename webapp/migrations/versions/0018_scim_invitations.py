"""systems.scim_invitations: email an invitation to users SCIM creates

Revision ID: 0018_scim_invitations
Revises: 0017_user_imports
Create Date: 2026-12-01 04:00:00

Security settings → "Provisioning (SCIM)": "Email an invitation to users your
identity provider adds". Off for every firm until an admin turns it on (a firm
that signs in with single sign-on usually leaves it off). Added and dropped in
place (SQLite 3.35+ does both without rebuilding the table).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_scim_invitations"
down_revision: str | Sequence[str] | None = "0017_user_imports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "systems",
        sa.Column("scim_invitations", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("systems", "scim_invitations")
