"""Counting the SQL an app sends (statements and commits), for tests that pin it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa


@dataclass
class RecordedSql:
    statements: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def recorded_sql(app) -> Iterator[RecordedSql]:
    """Record every statement and commit on the app's engine while the block runs."""
    engine = app.extensions["firmguard_db"]
    recorded = RecordedSql()

    def statement(_conn, _cursor, text, *_args):
        recorded.statements.append(" ".join(text.split())[:120])

    def commit(_conn):
        recorded.commits += 1

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    try:
        yield recorded
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "commit", commit)
