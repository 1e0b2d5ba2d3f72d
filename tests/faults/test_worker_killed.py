"""A Celery worker killed with SIGKILL in the middle of a digest batch: after a
new worker starts, every admin has exactly one digest.

Real parts throughout: a `celery -A jobs worker` process on the test's own
Redis, the test's database, and an SMTP server slow enough (per recipient)
that the kill lands while the batch is being sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.heads_up_helpers import add_admin, add_users, outbox, set_rule
from tests.jobs.conftest import wait_until
from tests.servers import free_port
from webapp.models import EmailStatus
from webapp.tasks import heads_up_tick, sweep_outbox

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = 12
ADMINS_PER_SYSTEM = 2
KILL_AFTER = 8  # digests received when the worker is killed
SMTP_DELAY = 0.15  # seconds per recipient: the batch takes ~3.6 s to send

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex")


class SlowHandler:
    """Takes its time over each recipient; keeps a message only once its DATA is in.

    `mid_send` is set while the recipient of message KILL_AFTER + 1 is being
    accepted: a kill then lands mid-send, never between the server's "250" and
    the worker recording the row as sent (the one window where SMTP itself
    cannot tell whether a message went, and a retry would send it twice).
    """

    def __init__(self) -> None:
        self.recipients: list[str] = []
        self.mid_send = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(self.recipients) >= KILL_AFTER:
            self.mid_send.set()
        await asyncio.sleep(SMTP_DELAY)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert message["Subject"].startswith("Heads up")
        self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted"


@pytest.fixture
def smtp():
    controller = Controller(SlowHandler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def app_overrides(private_redis, smtp):
    return {"REDIS_URL": private_redis.url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}


class WorkerProcess:
    """`celery -A jobs worker` (solo pool) in a process group of its own."""

    def __init__(self, app, log: Path) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "FIRMGUARD_ENV": "development",
            "DATABASE_URL": app.config["DATABASE_URL"],
            "REDIS_URL": app.config["REDIS_URL"],
            "MAIL_SERVER": app.config["MAIL_SERVER"],
            "MAIL_PORT": str(app.config["MAIL_PORT"]),
        }
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "jobs", "worker", "--pool", "solo"]
            + ["--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgement, no clean-up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def workers(app, tmp_path):
    """Start workers with `workers.start()`; every one is stopped at the end."""
    started: list[WorkerProcess] = []

    class Workers:
        def start(self) -> WorkerProcess:
            worker = WorkerProcess(app, tmp_path / "worker.log")
            started.append(worker)
            return worker

    yield Workers()
    for worker in started:
        worker.stop()


def test_a_worker_killed_mid_batch_leaves_every_admin_exactly_one_digest(
    app, factory, session, smtp, workers
):
    admins = []
    for number in range(SYSTEMS):
        system = factory.system(f"Firm {number}")
        admins += [add_admin(session, system, f"Admin {n}") for n in range(ADMINS_PER_SYSTEM)]
        add_users(session, system, ["Carla Clerk"])
        set_rule(session, system, hour=0)  # due now
    received = smtp.handler.recipients

    first = workers.start()
    heads_up_tick.delay()  # the hourly beat
    assert smtp.handler.mid_send.wait(timeout=30), "the batch never got under way"
    first.kill()
    assert len(received) == KILL_AFTER

    # The kill left the rest unsent, one of them claimed mid-send (parked for its lease).
    rows = outbox(session)
    assert len(rows) == len(admins)
    unsent = [row for row in rows if row.status != EmailStatus.SENT.value]
    assert len(unsent) == len(admins) - KILL_AFTER
    (claimed,) = [row for row in unsent if row.attempts == 1]

    workers.start()
    heads_up_tick.delay()  # the next hour's beat: every system already ran today
    sweep_outbox.delay()  # the next minute's sweep
    wait_until(lambda: len(received) == len(admins) - 1, timeout=30, what="the rest sent")
    claimed = session.merge(claimed)
    claimed.next_attempt_at = claimed.created_at  # as if its send lease had run out
    session.commit()
    sweep_outbox.delay()
    wait_until(
        lambda: all(row.status == EmailStatus.SENT.value for row in outbox(session)),
        timeout=30,
        what="every digest sent",
    )
    assert Counter(received) == Counter(admin.email for admin in admins)
    assert len(outbox(session)) == len(admins)  # the second tick queued nothing
