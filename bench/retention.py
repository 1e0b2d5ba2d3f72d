"""Benchmark: a simulated year of outbox and audit rows under retention, on PostgreSQL
(README, "Retention" and "Budgets").

    .venv/bin/python bench/retention.py [--scale 0.1] [--days 365] [--audit-per-day N]

Creates a private PostgreSQL database (dropped at the end) and seeds the firms
of `bench/heads_up.py` at `--scale` of 1,000,000 users in 10,000 systems. It
times the daily heads-up run once on empty history (real digests and
reminders: their bodies are the ones the simulation writes), then simulates
`--days` days: each day the daily run's volume at that scale (20,000 digests
and 38,000 reminders at scale 1, sent) and `--audit-per-day` audit events,
then the retention task as beat runs it, every hour of the day, each batch
committed on its own, then a plain VACUUM (what autovacuum does within the
day). It reports the tables' sizes (`pg_total_relation_size`) along the year,
the unbounded size the simulated days would reach (the first 30 days' growth,
before any retention applies, times the days: an insert-only table grows
linearly), the
time of each batch, the longest transaction a retention statement held its
locks in, and then times the daily run again with the year of history in the
tables. Writes the figures as JSON under bench/results/.

Audit events are simulated with AUDIT_RETENTION_DAYS = `--audit-days` (90
unless told), so that deletions happen within the simulated year; the 7-year
bound is the measured bytes per event times the daily volume times 2,555.

Budgets: the outbox under 10% of its unbounded size after the year; no
retention statement holds its locks for a second; the daily run no slower.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import heads_up as daily_run  # noqa: E402  (bench/heads_up.py)

from tests.conftest import private_postgres_database  # noqa: E402
from webapp import create_app, retention  # noqa: E402

DIGESTS_PER_DAY, REMINDERS_PER_DAY = 20_000, 38_000  # at 1,000,000 users
TABLES = ("outbound_emails", "audit_events")


def sizes(engine) -> dict:
    with engine.connect() as conn:
        return {
            table: {
                "total_mb": round(
                    conn.scalar(sa.text(f"SELECT pg_total_relation_size('{table}')")) / 2**20, 1
                ),
                "rows": conn.scalar(sa.text(f"SELECT count(*) FROM {table}")),  # noqa: S608
            }
            for table in TABLES
        }


def vacuum(engine, *tables: str) -> None:
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables or TABLES:
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


def sample_emails(engine) -> dict:
    """One real email of each kind from the daily run, of about its kind's average size."""
    samples = {}
    with engine.connect() as conn:
        for kind in ("heads_up", "reminder"):
            row = conn.execute(
                sa.text(
                    """
                    SELECT subject, body_text, body_html FROM outbound_emails
                    WHERE kind = :kind
                    ORDER BY abs(length(body_html) - (SELECT avg(length(body_html))
                                 FROM outbound_emails WHERE kind = :kind))
                    LIMIT 1
                    """
                ),
                {"kind": kind},
            ).one()
            samples[kind] = dict(row._mapping)
    return samples


def reset_daily_run(engine) -> None:
    """Undo the daily run (its emails, claims and reminder stamps) so it can run again."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM outbound_emails WHERE dedupe_key NOT LIKE 'bench:%'"))
        conn.execute(sa.text("UPDATE heads_up_rules SET last_run_local_date = NULL"))
        conn.execute(sa.text("UPDATE users SET last_mfa_reminder_at = NULL"))


def add_day(engine, day: datetime, scale: float, audit_per_day: int, samples: dict, users: int):
    """One day's sent emails (at the daily run's hour) and audit events (through the day)."""
    systems = max(int(10_000 * scale), 1)
    with engine.begin() as conn:
        for kind, count in (
            ("heads_up", int(DIGESTS_PER_DAY * scale)),
            ("reminder", int(REMINDERS_PER_DAY * scale)),
        ):
            conn.execute(
                sa.text(
                    """
                    INSERT INTO outbound_emails (system_id, kind, recipient, subject, body_text,
                        body_html, run_date, dedupe_key, status, attempts, next_attempt_at,
                        sent_at, created_at)
                    SELECT g % :systems + 1, CAST(:kind AS text), 'user' || g || '@bench.example',
                           :subject, :body_text, :body_html, CAST(:at AS date),
                           'bench:' || CAST(:kind AS text) || ':' || g || ':' || CAST(:at AS date),
                           'sent', 1, :at, :at + interval '2 minutes',
                           :at + g * interval '10 milliseconds'
                    FROM generate_series(1, :count) AS g
                    """
                ),
                {
                    "systems": systems,
                    "kind": kind,
                    "count": count,
                    "at": day + timedelta(hours=7),
                    **samples[kind],
                },
            )
        conn.execute(
            sa.text(
                """
                INSERT INTO audit_events (system_id, actor_id, subject_id, action, details,
                                          created_at)
                SELECT (g % :users) % :systems + 1, g % :users + 1, g % :users + 1,
                       'signin.succeeded', '{}', :day + (g % 86400) * interval '1 second'
                FROM generate_series(1, :count) AS g
                """
            ),
            {"users": users, "systems": systems, "count": audit_per_day, "day": day},
        )


def run_retention(app, engine, now: datetime, batches: list) -> int:
    """The hourly task: every expiry, a batch per transaction; returns rows touched."""
    touched = 0
    with Session(engine) as session:
        started = time.perf_counter()
        for step in retention.steps(session, now, app.config):
            session.commit()
            held = time.perf_counter() - started  # the statement's transaction, commit included
            started = time.perf_counter()
            if step.rows:
                batches.append((step.name, step.rows, step.seconds, held))
                touched += step.rows
    return touched


def simulate(url: str, args, samples: dict) -> dict:
    app = create_app(
        "testing",
        {
            "DATABASE_URL": url,
            "AUDIT_RETENTION_DAYS": args.audit_days,
            "OUTBOX_ROW_DAYS": args.outbox_row_days,
        },
    )
    engine = app.extensions["firmguard_db"]
    users = int(1_000_000 * args.scale)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=args.days
    )
    batches: list = []
    along_the_year = {}
    idle_runs = []
    simulated = time.perf_counter()
    for number in range(args.days):
        day = start + timedelta(days=number)
        add_day(engine, day, args.scale, args.audit_per_day, samples, users)
        for hour in range(24):
            run_started = time.perf_counter()
            touched = run_retention(app, engine, day + timedelta(hours=hour, minutes=30), batches)
            if not touched:
                idle_runs.append(time.perf_counter() - run_started)
        vacuum(engine)
        if number == 29 or (number + 1) % 60 == 0 or number == args.days - 1:
            along_the_year[number + 1] = sizes(engine)
            print(f"day {number + 1}: {along_the_year[number + 1]}", flush=True)
    simulated = time.perf_counter() - simulated
    engine.dispose()
    # Insert-only until retention starts on day 31: growth per day times the days.
    first_month = along_the_year[30]["outbound_emails"]["total_mb"]
    unbounded = round(first_month * args.days / 30, 1)
    final = along_the_year[args.days]
    audit = final["audit_events"]
    bytes_per_event = audit["total_mb"] * 2**20 / max(audit["rows"], 1)
    held = [batch[3] for batch in batches]
    longest = max(batches, key=lambda batch: batch[3]) if batches else None
    return {
        "simulated_seconds": round(simulated, 1),
        "sizes_by_day": along_the_year,
        "outbox": {
            "unbounded_estimate_mb": unbounded,
            "after_mb": final["outbound_emails"]["total_mb"],
            "after_share_of_unbounded": round(
                final["outbound_emails"]["total_mb"] / unbounded, 3
            )
            if unbounded
            else None,
        },
        "audit": {
            "bytes_per_event": round(bytes_per_event),
            "seven_year_bound_gb_at_audit_per_day": round(
                bytes_per_event * args.audit_per_day * 2555 / 2**30, 1
            ),
            "seven_year_bound_gb_per_million_events_a_day": round(
                bytes_per_event * 1_000_000 * 2555 / 2**30, 1
            ),
        },
        "batches": {
            "count": len(batches),
            "rows_max": max((batch[1] for batch in batches), default=0),
            "statement_ms_p50": round(statistics.median(b[2] for b in batches) * 1000, 1)
            if batches
            else None,
            "statement_ms_max": round(max((b[2] for b in batches), default=0) * 1000, 1),
            "transaction_ms_p95": round(statistics.quantiles(held, n=20)[-1] * 1000, 1)
            if len(held) >= 20
            else None,
            "longest_transaction_ms": round(longest[3] * 1000, 1) if longest else None,
            "longest_transaction_of": longest[0] if longest else None,
            "by_expiry": {
                name: sum(batch[1] for batch in batches if batch[0] == name)
                for name in {batch[0] for batch in batches}
            },
        },
        "idle_run_ms_p50": round(statistics.median(idle_runs) * 1000, 2) if idle_runs else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="of the 1M-user daily volume")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--audit-per-day", type=int, default=10_000)
    parser.add_argument("--audit-days", type=int, default=90, help="AUDIT_RETENTION_DAYS here")
    parser.add_argument("--outbox-row-days", type=int, default=400, help="OUTBOX_ROW_DAYS")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    if args.days < 30:
        parser.error("--days must be at least 30 (the unbounded estimate needs a month)")

    load_before = os.getloadavg()[0]
    users, systems = int(1_000_000 * args.scale), max(int(10_000 * args.scale), 1)
    with private_postgres_database("firmguard_bench_retention") as url:
        daily_run.seed(url, systems, users)
        print("daily run, empty history …", flush=True)
        before = daily_run.measure(url, args.workers)
        engine = sa.create_engine(url)
        samples = sample_emails(engine)
        reset_daily_run(engine)
        vacuum(engine)
        print(f"simulating {args.days} days …", flush=True)
        year = simulate(url, args, samples)
        reset_daily_run(engine)
        vacuum(engine)
        print("daily run, a year of history …", flush=True)
        after = daily_run.measure(url, args.workers)
        engine.dispose()
    result = {
        "benchmark": "retention",
        "scale": args.scale,
        "users": users,
        "systems": systems,
        "days": args.days,
        "emails_per_day": int((DIGESTS_PER_DAY + REMINDERS_PER_DAY) * args.scale),
        "audit_per_day": args.audit_per_day,
        "audit_retention_days": args.audit_days,
        "outbox_row_days": args.outbox_row_days,
        "sample_body_bytes": {
            kind: len(sample["body_text"]) + len(sample["body_html"])
            for kind, sample in samples.items()
        },
        **year,
        "daily_run": {
            "empty_history_wall_seconds": before["wall_seconds"],
            "year_of_history_wall_seconds": after["wall_seconds"],
            "rows_written_each": before["outbox_rows"],
        },
        "budget": {
            "outbox_share_of_unbounded": 0.10,
            "longest_transaction_ms": 1000,
            "daily_run": "no slower",
        },
    }
    daily_run.write_result(result, f"retention-{args.scale}", load_before)


if __name__ == "__main__":
    main()
