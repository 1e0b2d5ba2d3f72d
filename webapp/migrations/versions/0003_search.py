"""users list: SQLite search index, list indexes ending in id, count index

Revision ID: 0003_search
Revises: 0002_admin
Create Date: 2026-11-28 00:10:00

- SQLite: an FTS5 trigram table kept in step with users.search_key by triggers
  (webapp/user_search.py). PostgreSQL has its trigram GIN index already.
- Each list index ends in search_key (the name: the lists' first tie-breaker)
  and id (the last), so it serves its sort exactly and holds what a search tests
  (see `webapp.models.USER_LIST_INDEXES`).
- ix_users_system_counts, narrow, for counting filters; ix_users_system_id goes
  (every list index starts with system_id).

SQLite drops a table's triggers with the table: a later migration that rebuilds
`users` in batch mode must call `user_search.drop` before and
`user_search.create` after (tests/test_migrations_and_config.py checks the
migrated schema finds users from before and after the upgrade).
"""

from collections.abc import Sequence

from alembic import op

from webapp import user_search

revision: str = "0003_search"
down_revision: str | Sequence[str] | None = "0002_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The list indexes as 0002_admin left them (0001_initial for ix_users_system_mfa),
# and as this revision makes them. Written out, not imported: a migration must
# not change when the models do.
BEFORE = {
    "ix_users_system_search": ["system_id", "search_key"],
    "ix_users_system_email": ["system_id", "email"],
    "ix_users_system_last_sign_in": ["system_id", "last_sign_in_at"],
    "ix_users_system_role_search": ["system_id", "role", "search_key"],
    "ix_users_system_active_search": ["system_id", "active", "search_key"],
    "ix_users_system_mfa_search": ["system_id", "mfa_enabled", "search_key"],
    "ix_users_system_mfa": ["system_id", "mfa_enabled", "active"],
    "ix_users_system_filters": ["system_id", "role", "active", "mfa_enabled", "search_key"],
}
AFTER = {
    "ix_users_system_search": ["system_id", "search_key", "id"],
    "ix_users_system_email": ["system_id", "email", "search_key", "id"],
    "ix_users_system_last_sign_in": ["system_id", "last_sign_in_at", "search_key", "id"],
    "ix_users_system_role_search": ["system_id", "role", "search_key", "id"],
    "ix_users_system_active_search": ["system_id", "active", "search_key", "id"],
    "ix_users_system_mfa_search": ["system_id", "mfa_enabled", "search_key", "id"],
    "ix_users_system_mfa": ["system_id", "mfa_enabled", "active", "search_key", "id"],
    "ix_users_system_filters": ["system_id", "role", "active", "mfa_enabled", "search_key", "id"],
}
COUNTS = ["system_id", "active", "mfa_enabled", "role"]


def _reindex(old: dict, new: dict) -> None:
    with op.batch_alter_table("users") as batch_op:
        for name in old:
            batch_op.drop_index(name)
        for name, columns in new.items():
            batch_op.create_index(name, columns)


def upgrade() -> None:
    _reindex(BEFORE, AFTER)
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_system_id")
        batch_op.create_index("ix_users_system_counts", COUNTS)
    user_search.create(op.get_bind())


def downgrade() -> None:
    user_search.drop(op.get_bind())
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_system_counts")
        batch_op.create_index("ix_users_system_id", ["system_id"])
    _reindex(AFTER, BEFORE)
