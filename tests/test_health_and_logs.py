"""`GET /healthz` and the log lines: one per request, one per task, with a request id."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Blueprint

from tests import mfa_support
from tests.heads_up_helpers import REMINDER
from tests.servers import free_port
from webapp import create_app, logs, outbox
from webapp.extensions import db
from webapp.models import EmailStatus, OutboundEmail
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name


def queue(app, key: str) -> int:
    with app.app_context():
        row_id = outbox.queue_email(db.session, recipient=f"{key}@example.com", dedupe_key=key, **REMINDER)
        db.session.commit()
    return row_id


def test_healthz_is_ok_with_the_outbox_backlog_and_sets_no_cookie(app, client, session, clock):
    pending, failed = queue(app, "pending"), queue(app, "failed")
    for row_id, status in ((pending, EmailStatus.PENDING), (failed, EmailStatus.FAILED)):
        row = session.get(OutboundEmail, row_id)
        row.status = status.value
    session.commit()
    clock.advance(minutes=7)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
        "outbox": {"oldest_pending_seconds": 7 * 60, "failed": 1},
    }
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_has_no_rate_limit_and_needs_no_csrf_or_sign_in(app, client):
    app.config["RATELIMIT_ENABLED"] = True
    for _ in range(40):
        assert client.get("/healthz").status_code == 200


def test_healthz_names_the_database_when_it_is_down(tmp_path):
    app = create_app(
        "testing",
        {"DATABASE_URL": f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nothing"},
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["down"] == ["database"]
    assert response.json["status"] == "down"


@pytest.mark.parametrize("app_overrides", [{"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}])
def test_healthz_names_redis_when_it_is_down(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert (response.json["down"], response.json["database"]) == (["redis"], "ok")


def test_healthz_answers_ok_with_redis_up(app, client):
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/0"  # the shared server: only a PING
    assert client.get("/healthz").json["redis"] == "ok"


# --- request ids and the request's log line -------------------------------------

probe = Blueprint("log_probe", __name__)


@probe.route("/probe/<token>/<int:number>")
def with_variables(token: str, number: int):
    return "ok"


@pytest.fixture
def request_lines(app, caplog):
    app.register_blueprint(probe)
    caplog.set_level(logging.INFO, logger="firmguard.request")
    return lambda: [r for r in caplog.records if r.name == "firmguard.request"]


def test_each_request_logs_one_line_without_query_or_token_values(client, request_lines):
    # Buffered: the line is written once the server has sent (and closed) the body.
    response = client.get("/probe/abc123secret/42?code=123456&token=t0ps3cret", buffered=True)
    (record,) = request_lines()
    assert record.fields["path"] == "/probe/<token>/42"
    assert (record.fields["method"], record.fields["status"]) == ("GET", 200)
    assert record.fields["duration_ms"] >= 0
    assert record.request_id == response.headers["X-Request-ID"]
    line = logs.PlainFormatter().format(record)
    assert "GET /probe/<token>/42 200" in line
    for secret in ("abc123secret", "123456", "t0ps3cret", "?"):
        assert secret not in line


def test_a_sane_incoming_request_id_is_kept_and_any_other_replaced(client, request_lines):
    kept = client.get("/sign-in", headers={"X-Request-ID": "lb-42.a_b"}, buffered=True)
    assert kept.headers["X-Request-ID"] == "lb-42.a_b"
    for bad in ("has space", "x" * 129, "tab\there", "<script>", "ünïcode"):
        response = client.get("/sign-in", headers={"X-Request-ID": bad}, buffered=True)
        answered = response.headers["X-Request-ID"]
        assert answered != bad and len(answered) == 32
    (first, *_rest) = request_lines()
    assert first.request_id == "lb-42.a_b"


def test_a_sign_in_post_logs_neither_password_nor_email(client, factory, request_lines):
    factory.user(email="ann@example.com")
    client.post_form(
        "/sign-in", {"email": "ann@example.com", "password": "hunter2-secret"}, buffered=True
    )
    (line,) = [logs.PlainFormatter().format(r) for r in request_lines() if "POST" in r.getMessage()]
    assert "POST /sign-in 422" in line  # a wrong password
    assert "hunter2" not in line and "ann@example.com" not in line


def test_json_lines_hold_the_fields(client, request_lines):
    client.get("/healthz", headers={"X-Request-ID": "lb-1"}, buffered=True)
    (record,) = request_lines()
    entry = json.loads(logs.JsonFormatter().format(record))
    assert {key: entry[key] for key in ("method", "path", "status", "request_id", "level")} == {
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "request_id": "lb-1",
        "level": "INFO",
    }


def test_log_format_must_be_plain_or_json():
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        create_app("testing", {"DATABASE_URL": "sqlite://", "LOG_FORMAT": "xml"})


def test_each_task_logs_one_line_with_its_id_and_duration(app, caplog):
    caplog.set_level(logging.INFO, logger="firmguard.task")
    before = logs.CURRENT_ID.get()
    result = run_retention.delay()
    (record,) = [r for r in caplog.records if r.name == "firmguard.task"]
    assert record.fields["task"] == "webapp.tasks.run_retention"
    assert record.fields["state"] == "SUCCESS"
    assert record.fields["task_id"] == result.id
    assert record.fields["duration_ms"] >= 0
    assert "task webapp.tasks.run_retention SUCCESS" in logs.PlainFormatter().format(record)
    assert logs.CURRENT_ID.get() == before  # the task's id does not outlive it
