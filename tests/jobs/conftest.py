"""Real parts for the job tests: a redis-server of this test session's own (so
parallel runs never consume each other's tasks), a Celery worker in a thread,
and an SMTP server (aiosmtpd) that can refuse mail for a while."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

import pytest
import redis
from aiosmtpd.controller import Controller
from celery.contrib.testing.worker import start_worker

from tests.servers import PrivateRedis, free_port


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/jobs/" in str(item.path):
            item.add_marker(pytest.mark.jobs)
            # Celery's Redis result backend still calls redis-py's SETEX.
            item.add_marker(pytest.mark.filterwarnings("ignore:Call to deprecated setex"))


class RecordingHandler:
    """Keeps every message; refuses the next `refuse` messages with a 451, and
    the addresses in `unknown` for good (550)."""

    def __init__(self) -> None:
        self.messages = []
        self.connections = 0
        self.refuse = 0
        self.unknown: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

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


@pytest.fixture(scope="session")
def redis_url():
    """A redis-server of this test session's own, on a free port."""
    server = PrivateRedis(free_port())
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def smtp():
    """A real SMTP server on a free port; `smtp.handler` holds what it received."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def app_overrides(smtp, redis_url):
    return {"REDIS_URL": redis_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}


@pytest.fixture
def worker(app, redis_url):
    """A Celery worker (solo pool, in a thread) consuming from the test session's Redis."""
    redis.Redis.from_url(redis_url).flushdb()
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
