"""The users' substring search index on SQLite: an FTS5 trigram table.

PostgreSQL serves `search_key LIKE '%…%'` from a trigram GIN index the planner
picks by itself (`ix_users_search_trgm`). SQLite has no such index type, so a
search that matches few of a large system's users would scan every key of the
system (15-25 ms at 100,000 users, against a p95 budget of 50 ms: README,
"Budgets"). An FTS5 table with the trigram
tokenizer, kept in step with `users.search_key` by triggers, finds them from
the trigrams of the needle instead, and yields them lazily, so a search that
matches nearly everyone stops as soon as the list's match cap is reached.

The table lives outside the models' metadata (SQLModel cannot describe a
virtual table): created by migration 0003_search and, for test schemas built
with `create_all`, by an `after_create` hook on the users table.
"""

from __future__ import annotations

import sqlalchemy as sa

FTS_TABLE = "users_fts"
# A trigram needs three characters; shorter needles scan the key index.
MIN_NEEDLE = 3
# Past this many hits (in all systems) reading each hit's row costs more than
# scanning a system's keys (about a tenth of a row read per key).
MAX_DRIVING_HITS = 5_000

# Literal SQL: fixed text, no values (the table name is FTS_TABLE).
CREATE_STATEMENTS = (
    # External content: the index stores trigrams only; the text stays in users.
    "CREATE VIRTUAL TABLE users_fts USING fts5("
    "search_key, content='users', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN "
    "INSERT INTO users_fts(rowid, search_key) VALUES (new.id, new.search_key); END",
    "CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN "
    "INSERT INTO users_fts(users_fts, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); END",
    # Only when search_key is written: MFA and sign-in updates leave the index be.
    "CREATE TRIGGER users_fts_update AFTER UPDATE OF search_key ON users BEGIN "
    "INSERT INTO users_fts(users_fts, rowid, search_key) "
    "VALUES ('delete', old.id, old.search_key); "
    "INSERT INTO users_fts(rowid, search_key) VALUES (new.id, new.search_key); END",
)
REBUILD_STATEMENT = "INSERT INTO users_fts(users_fts) VALUES ('rebuild')"
DROP_STATEMENTS = (
    "DROP TRIGGER IF EXISTS users_fts_update",
    "DROP TRIGGER IF EXISTS users_fts_delete",
    "DROP TRIGGER IF EXISTS users_fts_insert",
    "DROP TABLE IF EXISTS users_fts",
)

_fts = sa.table(FTS_TABLE, sa.column("rowid"), sa.column("search_key"))


def create(connection: sa.Connection) -> None:
    """Create the index and its triggers, and index the users already there (SQLite only)."""
    if connection.dialect.name != "sqlite":
        return
    for statement in (*CREATE_STATEMENTS, REBUILD_STATEMENT):
        connection.exec_driver_sql(statement)


def drop(connection: sa.Connection) -> None:
    """Remove the index and its triggers (SQLite only)."""
    if connection.dialect.name != "sqlite":
        return
    for statement in DROP_STATEMENTS:
        connection.exec_driver_sql(statement)


def include_name(name: str | None, type_: str, _parent_names) -> bool:
    """Alembic's name filter: leave out the index and FTS5's shadow tables."""
    own = bool(name) and (name == FTS_TABLE or name.startswith(f"{FTS_TABLE}_"))
    return not (type_ == "table" and own)


def driven_by_index(session, query: sa.Select, user_id: sa.ColumnElement, needle: str):
    """`query` over users, read in the order the trigram index finds `needle`.

    Only on SQLite, for needles of three characters or more, and only when the
    needle is rare: each hit costs a read of its user row, so past
    MAX_DRIVING_HITS a scan of the key index, which stops at the list's match
    cap, is the cheaper plan. Otherwise `query` is returned unchanged. The
    phrase match is exact (consecutive trigrams are the substring), so the
    query's own LIKE condition stays a recheck, never a filter of false hits.
    """
    if session.get_bind().dialect.name != "sqlite" or len(needle) < MIN_NEEDLE:
        return query
    matches = _fts.c.search_key.match('"' + needle.replace('"', '""') + '"')
    # FTS5 yields hits lazily, so counting up to the threshold stays cheap.
    hits = session.execute(
        sa.select(sa.func.count()).select_from(
            sa.select(_fts.c.rowid).where(matches).limit(MAX_DRIVING_HITS + 1).subquery()
        )
    ).scalar_one()
    if hits > MAX_DRIVING_HITS:
        return query
    return query.select_from(_fts).join(user_id.table, user_id == _fts.c.rowid).where(matches)
