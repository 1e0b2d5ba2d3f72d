"""Daily adoption snapshots: written by the daily run, read by the panel.

The daily run (webapp/heads_up.py) claims each firm's local date once, counts
its users (one GROUP BY for the batch, `counts.counts_by_firm`), and writes
that date's snapshots here in one INSERT for the batch. A firm's first
snapshot also fills the days before it from the audit log (`backfill`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from webapp.adoption.counts import FirmCounts, snapshot_values
from webapp.models import AdoptionSnapshot, SnapshotSource

# The chart's span, today included.
CHART_DAYS = 90


class FirmDay(Protocol):
    """A firm's run on one of its local dates (`heads_up.SystemRun`)."""

    system_id: int
    timezone: str
    local_date: date


def insert_snapshots(session: Session, rows: list[dict]) -> None:
    """Insert snapshot rows; a (firm, local date) written before is kept as it was."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(AdoptionSnapshot)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["system_id", "local_date"])
    )


def write_daily(
    session: Session, runs: Iterable[FirmDay], counts: dict[int, FirmCounts], now: datetime
) -> None:
    """Each run's snapshot for its local date: one statement for the batch."""
    insert_snapshots(
        session,
        [
            {
                "system_id": run.system_id,
                "local_date": run.local_date,
                **snapshot_values(counts[run.system_id]),
                "source": SnapshotSource.DAILY.value,
                "created_at": now,
            }
            for run in runs
        ],
    )


def firms_without_history(session: Session, runs: list[FirmDay]) -> list[FirmDay]:
    """The runs whose firm has no snapshot before the run's date: their first
    snapshot, whose days before it the audit log may fill. One query."""
    if not runs:
        return []
    earliest = dict(
        session.execute(
            sa.select(AdoptionSnapshot.system_id, sa.func.min(AdoptionSnapshot.local_date))
            .where(AdoptionSnapshot.system_id.in_([run.system_id for run in runs]))
            .group_by(AdoptionSnapshot.system_id)
        ).all()
    )
    return [
        run
        for run in runs
        if earliest.get(run.system_id) is None or earliest[run.system_id] >= run.local_date
    ]


def recent(session: Session, system_id: int, today: date) -> dict[date, AdoptionSnapshot]:
    """The firm's snapshots of the chart's days before `today`, by date: one
    range read of the unique (firm, date) index."""
    first = today - timedelta(days=CHART_DAYS - 1)
    rows = session.execute(
        sa.select(AdoptionSnapshot).where(
            AdoptionSnapshot.system_id == system_id,
            AdoptionSnapshot.local_date >= first,
            AdoptionSnapshot.local_date < today,
        )
    ).scalars()
    return {row.local_date: row for row in rows}
