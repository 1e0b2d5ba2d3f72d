"""Real parts for the job tests: Redis (a database of their own), a Celery worker
in a thread, and an SMTP server (aiosmtpd) that can refuse mail for a while."""

from __future__ import annotations

import socket
import time
from email import message_from_bytes, policy

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker

REDIS_URL = "redis://127.0.0.1:6379/13"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/jobs/" in str(item.path):
            item.add_marker(pytest.mark.jobs)
            # Celery's Redis result backend still calls redis-py's SETEX.
            item.add_marker(pytest.mark.filterwarnings("ignore:Call to deprecated setex"))


class RecordingHandler:
    """Keeps every message; refuses the next `refuse` messages with a 451."""

    def __init__(self) -> None:
        self.messages = []
        self.connections = 0
        self.refuse = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.refuse > 0:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp():
    """A real SMTP server on a free port; `smtp.handler` holds what it received."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def app_overrides(smtp):
    return {"REDIS_URL": REDIS_URL, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}


@pytest.fixture
def worker(app):
    """A Celery worker (solo pool, in a thread) consuming from the test's Redis database."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    celery_app = app.extensions["celery"]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield celery_app


def wait_until(predicate, timeout: float = 15.0, what: str = "condition"):
    """Poll until `predicate()` is true (the worker runs in another thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
