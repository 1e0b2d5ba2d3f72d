"""The README's commands, run as written by an operator: from another working
directory, with a non-editable install's `bin/` on PATH (tests/installed_copy.py),
each in a shell of its own. Every line the README gives for the worker, beat,
gunicorn and `flask --app wsgi` is one these tests run (the first test checks
that), so the README cannot drift from what works.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import timedelta

import pytest
from celery.beat import PersistentScheduler
from sqlmodel import Session, select

from jobs import with_schedule
from tests.heads_up_helpers import REMINDER
from tests.installed_copy import (
    InstalledCopy,
    install_copy,
    readme_commands_table,
    readme_shell_lines,
    stop,
)
from tests.jobs.conftest import wait_until
from tests.servers import PrivateRedis, free_port, wait_for_port
from webapp import create_app, outbox
from webapp.extensions import db
from webapp.models import EmailStatus, OutboundEmail, utcnow

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex")

WORKER = "celery -A jobs worker"
BEAT = "celery -A jobs beat"
PING = "celery -A jobs inspect ping"
GUNICORN = "gunicorn "
FLASK = "flask --app wsgi "
# Sample values for the placeholders of the README's Commands table.
PLACEHOLDERS = {
    "NAME": "'Kauri Law'",
    "CC": "NZ",
    "TZ": "Pacific/Auckland",
    "xero|other|none": "xero",
    "E": "ana@kauri.example",
    "N": "'Ana Kauri'",
    "P": "'a long enough password'",
    "[--admin]": "--admin",
    "[--system": "--system",
    "NAME]": "'Kauri Law'",
    "N|": "1 |",
}


def readme_line(prefix: str) -> str:
    (line,) = {line for line in readme_shell_lines() if line.startswith(prefix)}
    return line


def with_samples(command: str) -> str:
    """A Commands-table entry with its placeholders filled in (`--id N | --all` → `--all`)."""
    command = re.sub(r"--id N \| --all", "--all", command)
    return " ".join(PLACEHOLDERS.get(word, word) for word in command.split())


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> InstalledCopy:
    return install_copy(tmp_path_factory.mktemp("installed"))


@pytest.fixture(scope="module")
def instance(installed, tmp_path_factory):
    """An instance folder (default SQLite database, mail) migrated by the README's line."""
    home = tmp_path_factory.mktemp("operator")
    folder = home / "instance"
    result = installed.run(readme_line(FLASK + "db upgrade"), home, installed.env(folder))
    assert result.returncode == 0, result.stderr
    return folder


def test_the_readme_commands_are_the_ones_these_tests_run():
    app_commands = [
        line for line in readme_shell_lines() if line.startswith(("celery ", "gunicorn ", "flask "))
    ]
    assert sorted(set(app_commands)) == sorted(
        {
            readme_line(WORKER),
            readme_line(BEAT),
            readme_line(PING),
            readme_line(GUNICORN),
            readme_line(FLASK),
        }
    )
    assert readme_line(WORKER).startswith("celery -A jobs worker --loglevel INFO")
    assert readme_line(BEAT).startswith("celery -A jobs beat --loglevel INFO")
    assert "db upgrade" in readme_commands_table()


def test_an_installed_copy_runs_every_flask_command_of_the_readme(installed, tmp_path):
    folder = tmp_path / "instance"
    env = installed.env(folder)
    where = installed.run("python -c 'import webapp, wsgi; print(webapp.__file__)'", tmp_path, env)
    assert where.stdout.startswith(str(installed.venv)), where.stdout + where.stderr

    for command in readme_commands_table():
        if command.startswith("db revision"):
            # A developer's command (it writes a migration into the code): it exists.
            result = installed.run(f"{FLASK}db revision --help", tmp_path, env)
        else:
            result = installed.run(FLASK + with_samples(command), tmp_path, env)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        if command.startswith("retention run"):
            assert "pending sign-ins: 0" in result.stdout
        if command.startswith("heads-up run"):
            assert "Sent 2 emails." in result.stdout  # the admin's digest and reminder

    assert (folder / "firmguard.sqlite").exists()
    assert len(list((folder / "mail").glob("*.eml"))) >= 1
    assert not list(installed.venv.rglob("firmguard.sqlite"))  # nothing in site-packages


def seed_beat_schedule(celery_app, path, due: str) -> None:
    """Beat's state file as a beat that last ran `due` five minutes ago left it,
    so the first beat started here sends it at once instead of next minute."""
    scheduler = PersistentScheduler(app=celery_app, schedule_filename=str(path), lazy=True)
    scheduler.setup_schedule()
    scheduler.schedule[due].last_run_at = utcnow() - timedelta(minutes=5)
    scheduler.sync()
    scheduler.close()


def test_the_readme_worker_and_beat_commands_run_tasks(installed, instance, tmp_path):
    redis = PrivateRedis(free_port())
    redis.start()
    app = create_app(
        "testing",
        {
            "DATABASE_URL": f"sqlite:///{instance / 'firmguard.sqlite'}",
            "REDIS_URL": redis.url,
            "MAIL_FILE_DIR": str(instance / "mail"),
        },
    )
    env = installed.env(instance, REDIS_URL=redis.url)
    celery_app = with_schedule(app.extensions["celery"])
    seed_beat_schedule(celery_app, tmp_path / "celerybeat-schedule", "outbox-sweep")
    engine = app.extensions["firmguard_db"]
    with Session(engine) as session:
        # Queued without a delivery request: only beat's outbox sweep sends it.
        swept = OutboundEmail(
            kind="reminder",
            recipient="sweep@example.com",
            subject="Swept",
            body_text="Sent by the sweep.",
            body_html="<p>Sent by the sweep.</p>",
            dedupe_key="sweep",
        )
        session.add(swept)
        session.commit()
    processes = [
        installed.start(readme_line(WORKER), tmp_path, env, tmp_path / "worker.log"),
        installed.start(readme_line(BEAT), tmp_path, env, tmp_path / "beat.log"),
    ]
    try:
        with app.app_context():
            # Its commit asks the worker to deliver it (`deliver_outbox.delay`).
            outbox.queue_email(
                db.session, recipient="task@example.com", dedupe_key="task", **REMINDER
            )
            db.session.commit()

        def sent() -> set[str]:
            with Session(engine) as session:
                rows = session.exec(select(OutboundEmail)).all()
                return {row.recipient for row in rows if row.status == EmailStatus.SENT.value}

        wait_until(lambda: sent() >= {"task@example.com", "sweep@example.com"}, 60, "both sent")
        assert len(list((instance / "mail").glob("*.eml"))) >= 2
        ping = installed.run(readme_line(PING), tmp_path, env)
        assert "pong" in ping.stdout, ping.stdout + ping.stderr
    finally:
        for process in processes:
            stop(process)
        redis.stop()
    worker_log = (tmp_path / "worker.log").read_text()
    assert "firmguard.task" in worker_log and "webapp.tasks.deliver_outbox SUCCESS" in worker_log
    assert "Sending due task outbox-sweep" in (tmp_path / "beat.log").read_text()


def test_the_readme_gunicorn_command_serves_the_app_with_json_logs(installed, instance, tmp_path):
    port = free_port()
    command = re.sub(r"--bind \S+", f"--bind 127.0.0.1:{port}", readme_line(GUNICORN))
    env = installed.env(instance, LOG_FORMAT="json")
    log = tmp_path / "gunicorn.log"
    process = installed.start(command, tmp_path, env, log)
    try:
        wait_for_port(port, timeout=60)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz?token=secret-in-query",
            headers={"X-Request-ID": "lb-check-1"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            body = json.load(response)
            assert response.status == 200
            assert response.headers["X-Request-ID"] == "lb-check-1"
        assert body["status"] == "ok" and body["database"] == "ok"
        deadline = time.monotonic() + 10
        while "lb-check-1" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop(process)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    (entry,) = [line for line in lines if line.get("request_id") == "lb-check-1"]
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["duration_ms"] >= 0
    assert "secret-in-query" not in log.read_text()
