"""users' MFA methods: the app confirmed, how many passkeys (denormalised)

Revision ID: 0015_mfa_methods
Revises: 0014_sign_in_origins
Create Date: 2026-12-01 01:30:00

The admin list's MFA column names the methods and the adoption panel counts
users by method without a join. Filled from `totp_credentials` (confirmed)
and `passkeys`. Added and dropped in place (SQLite 3.35+ does both without
rebuilding the table, so the search index's triggers stay: see 0003_search).
Two small partial indexes serve the panel's per-method counts.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_mfa_methods"
down_revision: str | Sequence[str] | None = "0014_sign_in_origins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("mfa_app", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "users", sa.Column("passkey_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.execute(
        "UPDATE users SET "
        "mfa_app = EXISTS (SELECT 1 FROM totp_credentials t "
        "WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL), "
        "passkey_count = (SELECT count(*) FROM passkeys p WHERE p.user_id = users.id)"
    )
    op.create_index(
        "ix_users_system_app",
        "users",
        ["system_id", "active"],
        postgresql_where=sa.text("mfa_app"),
        sqlite_where=sa.text("mfa_app = 1"),
    )
    op.create_index(
        "ix_users_system_passkey",
        "users",
        ["system_id", "active"],
        postgresql_where=sa.text("passkey_count > 0"),
        sqlite_where=sa.text("passkey_count > 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_users_system_passkey", table_name="users")
    op.drop_index("ix_users_system_app", table_name="users")
    op.drop_column("users", "passkey_count")
    op.drop_column("users", "mfa_app")
