"""Benchmark: the heads-up run over 1,000,000 users in 10,000 systems (README, "Budgets").

    .venv/bin/python bench/heads_up.py [--users N] [--systems N]

Creates a private PostgreSQL database (dropped at the end), seeds it
server-side (INSERT … SELECT generate_series), then times the whole daily run
for every system: the due check, claiming, compliance reminders and the
digests written to the outbox (sending excluded). Reports wall time, peak
memory (max RSS of this process, from getrusage) and the number of SQL
statements (an SQLAlchemy event counter), and writes them as JSON under
bench/results/. Budget: under 60 s, under 300 MB, statements independent of
the number of users.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import private_postgres_database  # noqa: E402
from webapp import create_app, heads_up  # noqa: E402
from webapp.models import OutboundEmail  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
TIMEZONES = [
    "Pacific/Auckland",
    "Australia/Sydney",
    "Australia/Perth",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Singapore",
    "UTC",
]


def seed(url: str, systems: int, users: int) -> None:
    """Tables, then systems (one in ten a NZ firm linked to Xero), their rules, and
    users spread evenly: two admins per system, 60% of users with MFA, 2% inactive."""
    engine = sa.create_engine(url)
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                """
                INSERT INTO systems (name, country, timezone, accounting_link, mfa_required,
                                     mfa_grace_days, created_at)
                SELECT 'Firm ' || g,
                       CASE WHEN g % 10 = 0 THEN 'NZ' ELSE 'GB' END,
                       (CAST(:zones AS text[]))[g % :zone_count + 1],
                       CASE WHEN g % 10 = 0 THEN 'xero' ELSE 'none' END,
                       false, 0, now()
                FROM generate_series(1, :systems) AS g
                """
            ),
            {"systems": systems, "zones": TIMEZONES, "zone_count": len(TIMEZONES)},
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO heads_up_rules (system_id, kind, enabled, hour, send_all_clear)
                SELECT id, 'without_mfa', true, 7, false FROM systems
                """
            )
        )
        conn.execute(
            sa.text(
                """
                INSERT INTO users (system_id, email, display_name, search_key, password_hash,
                                   role, active, last_sign_in_at, session_version, mfa_enabled,
                                   mfa_failed_count, mfa_lock_count, created_at)
                SELECT (g - 1) % :systems + 1,
                       'user' || g || '@bench.example',
                       'User <' || g || '>',
                       'user ' || g,
                       'not-a-hash',
                       CASE WHEN g <= 2 * :systems THEN 'admin' ELSE 'user' END,
                       (g - 1) / :systems % 50 <> 49,
                       CASE WHEN g % 3 = 0 THEN NULL ELSE now() - (g % 90) * interval '1 day' END,
                       1,
                       (g - 1) / :systems % 10 BETWEEN 2 AND 7,
                       0, 0, now()
                FROM generate_series(1, :users) AS g
                """
            ),
            {"systems": systems, "users": users},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


_worker: dict = {}


def _start_worker(url: str) -> None:
    """A worker process: its own app and engine, counting its SQL statements."""
    app = create_app("testing", {"DATABASE_URL": url})
    engine = app.extensions["firmguard_db"]
    _worker.update(app=app, engine=engine, statements=0)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        _worker["statements"] += 1


def _ready() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_batch(system_ids: list[int], now: datetime) -> dict:
    """One `run_heads_up` task, as a Celery worker process would run it."""
    before = _worker["statements"]
    with _worker["app"].app_context(), Session(_worker["engine"]) as session:
        summary = heads_up.run_systems(session, system_ids, now, ignore_hour=True)
        session.commit()  # the task's one commit
    return {
        "systems": summary.systems,
        "digests": summary.digests,
        "reminders": summary.reminders,
        "statements": _worker["statements"] - before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def measure(url: str, workers: int) -> dict:
    """Time the run of every system over `workers` processes; count statements; peak memory.

    The batches are the ones the hourly tick queues as `run_heads_up` tasks, so
    this is what `workers` Celery worker processes would do.
    """
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        system_ids = list(conn.scalars(sa.text("SELECT id FROM systems ORDER BY id")))
    batches = [
        system_ids[start : start + heads_up.BATCH_SIZE]
        for start in range(0, len(system_ids), heads_up.BATCH_SIZE)
    ]
    now = datetime.now(UTC)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, initializer=_start_worker, initargs=(url,)) as pool:
        rss_before = max(pool.map(_ready_after_start, range(workers)))
        started = time.perf_counter()
        results = list(pool.map(_run_batch, batches, [now] * len(batches)))
        run_seconds = time.perf_counter() - started

    _start_worker(url)
    with _worker["app"].app_context(), Session(_worker["engine"]) as session:
        started = time.perf_counter()
        due_after = heads_up.due_system_ids(session, now)
        tick_seconds = time.perf_counter() - started
        tick_statements = _worker["statements"]
        outbox_rows = session.scalar(sa.select(sa.func.count()).select_from(OutboundEmail))
    _worker["engine"].dispose()
    engine.dispose()
    return {
        "workers": workers,
        "wall_seconds": round(run_seconds, 2),
        "peak_rss_mb_per_worker": round(max(result["peak_rss_mb"] for result in results), 1),
        "rss_at_worker_start_mb": round(rss_before, 1),
        "sql_statements": sum(result["statements"] for result in results),
        "batches": len(batches),
        "systems_run": sum(result["systems"] for result in results),
        "digests_written": sum(result["digests"] for result in results),
        "reminders_written": sum(result["reminders"] for result in results),
        "outbox_rows": outbox_rows,
        "idle_tick": {
            "seconds": round(tick_seconds, 3),
            "sql_statements": tick_statements,
            "due": len(due_after),
        },
    }


def _ready_after_start(_index: int) -> float:
    # Each call lands on a started worker; returns its memory before any work.
    time.sleep(0.5)
    return _ready()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument(
        "--workers", type=int, default=len(os.sched_getaffinity(0)), help="default: one per CPU"
    )
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with private_postgres_database("firmguard_bench_heads_up") as url:
        started = time.perf_counter()
        seed(url, args.systems, args.users)
        seed_seconds = time.perf_counter() - started
        result = measure(url, args.workers)
    result = {
        "benchmark": "heads_up",
        "users": args.users,
        "systems": args.systems,
        "seed_seconds": round(seed_seconds, 1),
        **result,
        "budget": {"wall_seconds": 60, "peak_rss_mb": 300},
    }
    write_result(result, f"heads_up-{args.users}", load_before)


def write_result(result: dict, name: str, load_before: float) -> None:
    """Add the machine and the time to `result`, print it and write it under bench/results/."""
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)),
        # Other work on the machine inflates the wall time; recorded for context.
        "load_average_1m_before": load_before,
    }
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{result['at'].replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
