"""retention: the indexes the hourly retention run and the health check read

Revision ID: 0006_retention
Revises: 0005_digest_counts
Create Date: 2026-12-01 10:00:00

Each expiry declared on a model (webapp/expiry.py) is looked up by an index,
a batch at a time:
- outbound_emails (status, created_at): finished rows past OUTBOX_ROW_DAYS,
  and the backlog (oldest pending, failed count) of /healthz and `outbox status`;
- outbound_emails (created_at) WHERE body_text <> '': rows that still have
  their bodies (so a run never walks the rows it has already cleared);
- audit_events (created_at), pending_sign_ins (expires_at), sso_attempts
  (expires_at), and totp_credentials (pending_expires_at) WHERE it is set.

On PostgreSQL the indexes are built CONCURRENTLY, so a large outbox or audit
log keeps taking writes while they are built.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_retention"
down_revision: str | Sequence[str] | None = "0005_digest_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BODY_KEPT = "body_text <> ''"
PENDING_SET = "pending_expires_at IS NOT NULL"

# name -> (table, columns, partial index condition)
INDEXES = {
    "ix_outbound_emails_status_created": ("outbound_emails", ["status", "created_at"], None),
    "ix_outbound_emails_with_bodies": ("outbound_emails", ["created_at"], BODY_KEPT),
    "ix_audit_events_created": ("audit_events", ["created_at"], None),
    "ix_pending_sign_ins_expires_at": ("pending_sign_ins", ["expires_at"], None),
    "ix_sso_attempts_expires_at": ("sso_attempts", ["expires_at"], None),
    "ix_totp_credentials_pending_expires": ("totp_credentials", ["pending_expires_at"], PENDING_SET),
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    concurrently = _postgresql()
    for name, (table, columns, where) in INDEXES.items():
        condition = sa.text(where) if where else None
        options = {"postgresql_where": condition, "sqlite_where": condition}
        if concurrently:
            with op.get_context().autocommit_block():
                op.create_index(name, table, columns, postgresql_concurrently=True, **options)
        else:
            op.create_index(name, table, columns, **options)


def downgrade() -> None:
    for name, (table, _columns, _where) in INDEXES.items():
        op.drop_index(name, table_name=table)
