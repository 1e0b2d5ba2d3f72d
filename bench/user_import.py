"""Benchmark: "Import users" with a 5,000-row CSV, beside Add user one at a time.

One firm with 1,000 people already (so some rows exist) on SQLite and on
PostgreSQL, schema from the Alembic migrations. An admin signs in through the
Flask test client, uploads a CSV of 5,000 rows (4,900 new, 50 already
existing, 50 invalid) for the preview, then clicks "Send invitations". Then,
on the same database, the same admin adds `--one-by-one` (200) other people
through Add user, one request each. Reported: server time of the preview and
of the send, per new person against Add user's per person, SQL statements per
send, and what the send left: users invited, outbox rows, audit events.
Emails are delivered afterwards by the worker, in batches; not measured here.

    .venv/bin/python bench/user_import.py               # both databases
    .venv/bin/python bench/user_import.py --db sqlite --rows 1000
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import machine, write_json  # noqa: E402
from bench.scratch_db import scratch_database  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.accounts import create_system, create_user  # noqa: E402
from webapp.cli import alembic_config  # noqa: E402
from webapp.extensions import db  # noqa: E402

PG_DATABASE = "firmguard_bench_import"
PASSWORD = "bench password 1234"
ADMIN = "admin@import.example"
EXISTING = 1_000
# Delivery requests are queued (as with Redis in production), not run in the
# request as the demo's in-process mode does: the worker's sending is not timed.
QUEUED = {"broker_url": "memory://", "task_always_eager": False, "task_ignore_result": True}
RESULTS = Path(__file__).resolve().parent / "results" / "user_import.json"
SEND_ACTION = re.compile(rb'action="(/admin/users/import/\d+/send)"')


def csv_file(rows: int) -> bytes:
    """`rows` rows: 1% already existing, 1% invalid, the rest new."""
    lines = ["email,display name,role"]
    for index in range(rows):
        if index % 100 == 50:
            lines.append(f"person{index % EXISTING}@import.example,Someone Existing,User")
        elif index % 100 == 99:
            lines.append(f"not an email {index},Someone Invalid,User")
        else:
            role = "Admin" if index % 500 == 0 else "User"
            lines.append(f"new.person{index}@import.example,Tama Ngata {index},{role}")
    return ("\n".join(lines) + "\n").encode()


def seed(url: str) -> None:
    app = create_app("testing", {"DATABASE_URL": url})
    with app.app_context():
        command.upgrade(alembic_config(), "heads")
        system = create_system(
            db.session, "Import Bench Law", country="NZ", timezone="Pacific/Auckland"
        )
        create_user(
            db.session, system, email=ADMIN, name="Ann Admin", password=PASSWORD, admin=True
        )
        for index in range(EXISTING):
            create_user(
                db.session,
                system,
                email=f"person{index}@import.example",
                name=f"Person {index}",
                password=PASSWORD,
            )
        db.session.commit()
        db.engine.dispose()


def count_statements(engine) -> list[int]:
    counter = [0]
    sa.event.listen(
        engine, "before_cursor_execute", lambda *args: counter.__setitem__(0, counter[0] + 1)
    )
    return counter


def measure(url: str, rows: int, one_by_one: int) -> dict:
    app = create_app("testing", {"DATABASE_URL": url, "WTF_CSRF_ENABLED": False, "CELERY": QUEUED})
    client = app.test_client()
    signed_in = client.post("/sign-in", data={"email": ADMIN, "password": PASSWORD})
    assert signed_in.status_code == 302, "admin sign-in failed"
    with app.app_context():
        statements = count_statements(db.engine)
    boundary, body = encode_multipart(
        {"file": FileStorage(io.BytesIO(csv_file(rows)), "people.csv")}
    )
    start = time.perf_counter()
    preview = client.post(
        "/admin/users/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    preview_ms = (time.perf_counter() - start) * 1000
    assert preview.status_code == 200, preview.status_code
    send_path = SEND_ACTION.search(preview.data).group(1).decode()
    statements[0] = 0
    start = time.perf_counter()
    # The admin's password in the same request is the "Confirm it's you" proof.
    sent = client.post(send_path, data={"current_password": PASSWORD})
    send_ms = (time.perf_counter() - start) * 1000
    send_statements = statements[0]
    assert sent.headers.get("Location") == "/admin/users", sent.status_code
    with app.app_context():
        invited, outbox, audit = (
            db.session.execute(sa.text(query)).scalar_one()
            for query in (
                "SELECT count(*) FROM users WHERE invited_at IS NOT NULL",
                "SELECT count(*) FROM outbound_emails WHERE kind = 'invitation'",
                "SELECT count(*) FROM audit_events WHERE action = 'user.invited'",
            )
        )
    # Add user, one request per person, by the same admin (the proof is fresh).
    singles = []
    for index in range(one_by_one):
        start = time.perf_counter()
        added = client.post(
            "/admin/users/new",
            data={
                "email": f"single{index}@import.example",
                "display_name": f"Single {index}",
                "role": "user",
            },
        )
        singles.append((time.perf_counter() - start) * 1000)
        assert added.status_code == 302, added.status_code
    with app.app_context():
        db.engine.dispose()
    return {
        "preview_ms": preview_ms,
        "send_ms": send_ms,
        "send_statements": send_statements,
        "invited": invited,
        "outbox_rows": outbox,
        "audit_events": audit,
        "add_user_p50_ms": statistics.median(singles) if singles else None,
        "add_user_total_ms": sum(singles),
    }


def run(backend: str, rows: int, one_by_one: int) -> dict:
    with scratch_database(backend, PG_DATABASE) as url:
        seed(url)
        return measure(url, rows, one_by_one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--one-by-one", type=int, default=200)
    args = parser.parse_args()
    started = machine()
    print(f"machine: {started}", flush=True)
    results = {"machine_at_start": started, "rows": args.rows, "one_by_one": args.one_by_one}
    backends = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for backend in backends:
        result = run(backend, args.rows, args.one_by_one)
        results[backend] = result
        new = result["invited"]
        per_person = result["send_ms"] / max(new, 1)
        print(
            f"{backend:10} rows={args.rows:,}: preview {result['preview_ms']:.0f} ms, "
            f"send {result['send_ms']:.0f} ms ({result['send_statements']} statements) "
            f"for {new:,} new = {per_person:.2f} ms per person | "
            f"Add user one by one: p50 {result['add_user_p50_ms']:.1f} ms per person "
            f"({args.one_by_one} people, {result['add_user_total_ms']:.0f} ms) | "
            f"left: {result['invited']:,} invited users, {result['outbox_rows']:,} invitation emails, "
            f"{result['audit_events']:,} 'user invited' events",
            flush=True,
        )
    results["load_average_at_the_end"] = [round(value, 2) for value in os.getloadavg()]
    print(f"load average at the end: {results['load_average_at_the_end']}", flush=True)
    write_json(RESULTS, results)


if __name__ == "__main__":
    main()
