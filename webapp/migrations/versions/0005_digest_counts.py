"""heads-up rules keep what their last digest reported

Revision ID: 0005_digest_counts
Revises: 0004_sso
Create Date: 2026-11-30 21:40:00

The next digest states the change since the previous one ("3 fewer users
without MFA than at the previous heads-up, on 28 Nov 2026"): the rule keeps the
previous digest's local date, active users and users with MFA, written in the
same transaction as that digest's emails.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_digest_counts"
down_revision: str | Sequence[str] | None = "0004_sso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("last_digest_on", sa.Date()),
    ("last_digest_total", sa.Integer()),
    ("last_digest_with_mfa", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("heads_up_rules") as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("heads_up_rules") as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
