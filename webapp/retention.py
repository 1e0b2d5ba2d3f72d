"""Retention: every expiry the tables declare (`webapp.expiry`), applied in
bounded batches.

Each batch is one statement over at most RETENTION_BATCH_SIZE rows, picked
by the expiry's indexed predicate, and the caller commits after each one
(`steps` yields after every statement), so no statement holds its locks for
long nor grows a transaction with a year of rows. Running it again finds
nothing left to do, and several workers may run it at once: on PostgreSQL
each batch skips the rows another worker has locked (`SKIP LOCKED`), so
they share the work; SQLite lets one writer at a time, each in turn.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from webapp import models  # noqa: F401  (the models register their expiries on import)
from webapp.expiry import REGISTRY, Expiry


@dataclass(frozen=True)
class Step:
    """One statement of a run: which expiry, how many rows, how long it took."""

    name: str
    rows: int
    seconds: float


def batch_statement(expiry: Expiry, now: datetime, settings: Mapping, dialect: str):
    """Delete (or clear) at most one batch of the expiry's rows, picked by id."""
    table = expiry.model.__table__
    picked = (
        sa.select(table.c.id)
        .where(expiry.condition(now, settings))
        .limit(settings["RETENTION_BATCH_SIZE"])
    )
    if dialect == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    rows = table.c.id.in_(picked.scalar_subquery())
    if expiry.clear is None:
        return sa.delete(table).where(rows)
    return sa.update(table).where(rows).values(**expiry.clear)


def steps(session: Session, now: datetime, settings: Mapping) -> Iterator[Step]:
    """Apply every expiry, a batch per statement; the caller commits after each step.

    An expiry is done when a batch comes back short: nothing is left, or
    what is left is locked by another worker, which will finish it.
    """
    dialect = session.get_bind().dialect.name
    size = settings["RETENTION_BATCH_SIZE"]
    for expiry in REGISTRY:
        while True:
            started = time.perf_counter()
            rows = session.execute(batch_statement(expiry, now, settings, dialect)).rowcount
            yield Step(expiry.name, rows, time.perf_counter() - started)
            if rows < size:
                break


def due_counts(session: Session, now: datetime, settings: Mapping) -> dict[str, int]:
    """How many rows each expiry would touch now (for a progress bar)."""
    return {
        expiry.name: session.execute(
            sa.select(sa.func.count())
            .select_from(expiry.model.__table__)
            .where(expiry.condition(now, settings))
        ).scalar_one()
        for expiry in REGISTRY
    }
