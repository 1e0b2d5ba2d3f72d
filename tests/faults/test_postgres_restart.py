"""PostgreSQL restarted under a running app: a request in flight gets the error
page (not a hang), and the app recovers without a restart."""

from __future__ import annotations

import threading
import time

import psycopg
from alembic import command as alembic_command

from tests.conftest import CsrfClient, Factory, sign_in
from webapp import create_app
from webapp.cli import alembic_config


def test_app_recovers_after_postgres_restart(private_postgres, tmp_path):
    app = create_app(
        "testing", {"DATABASE_URL": private_postgres.url, "MAIL_FILE_DIR": str(tmp_path / "mail")}
    )
    with app.app_context():
        alembic_command.upgrade(alembic_config(), "heads")
    app.test_client_class = CsrfClient
    factory = Factory(app)
    factory.user(email="ann@example.com", name="Ann")
    client = app.test_client()
    sign_in(client, "ann@example.com")
    assert client.get("/profile").status_code == 200

    # A request in flight: it waits on a lock held by another connection when
    # the server goes away.
    in_flight = {}
    locker = psycopg.connect(private_postgres.url.replace("+psycopg", ""))
    locker.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
    request = threading.Thread(target=lambda: in_flight.update(response=client.get("/profile")))
    request.start()
    wait_for_lock_wait(locker)
    started = time.monotonic()
    private_postgres.stop()
    request.join(timeout=20)
    assert not request.is_alive(), "the request in flight hung"
    assert time.monotonic() - started < 20
    assert in_flight["response"].status_code == 500
    assert "Something went wrong on our side" in in_flight["response"].get_data(as_text=True)
    locker.close()

    down = client.get("/profile")
    assert down.status_code == 500
    assert "Something went wrong on our side" in down.get_data(as_text=True)

    private_postgres.start()
    # The pooled connections died with the server; pre-ping replaces them.
    assert client.get("/profile").status_code == 200
    assert "Ann" in client.get("/profile").get_data(as_text=True)
    app.extensions["firmguard_db"].dispose()


def wait_for_lock_wait(connection, timeout: float = 10.0) -> None:
    """Wait until another backend is blocked on a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.05)
    raise TimeoutError("no request waited on the lock")
