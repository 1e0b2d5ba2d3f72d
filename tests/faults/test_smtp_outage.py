"""The mail server away for a while (first not listening at all, then refusing
with 451s), then back: every email is retried and arrives exactly once.

tests/jobs/test_heads_up_jobs.py covers one refusal through a real worker;
this one runs several emails through a longer outage, with the sweep's clock
moved past each back-off instead of waiting for it.
"""

from __future__ import annotations

from collections import Counter

import pytest
from aiosmtpd.controller import Controller

from tests.heads_up_helpers import outbox
from tests.jobs.conftest import RecordingHandler
from tests.servers import free_port
from tests.test_outbox import queue
from webapp import mail
from webapp.models import EmailStatus, utcnow

RECIPIENTS = [f"user{number}@example.com" for number in range(3)]


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def app_overrides(smtp_port):
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port}


def test_emails_survive_an_smtp_outage_and_arrive_once(app, session, smtp_port):
    for recipient in RECIPIENTS:
        queue(app, key=f"reminder:{recipient}", recipient=recipient)
    now = utcnow()
    outcomes = []

    def sweep():
        with app.app_context():
            outcomes.append(mail.sweep(session, now))

    def next_attempt():
        return min(
            row.next_attempt_at
            for row in outbox(session)
            if row.status == EmailStatus.PENDING.value
        )

    sweep()  # nothing listens
    now = next_attempt()
    sweep()
    handler = RecordingHandler()
    handler.refuse = 4  # back, but refusing for a while
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        sweep()  # before the back-off has passed: nothing is tried
        for _ in range(3):
            now = next_attempt()
            sweep()
        sweep()
    finally:
        controller.stop()

    assert outcomes == [
        {"sent": 0, "retry": 3, "failed": 0},
        {"sent": 0, "retry": 3, "failed": 0},
        {"sent": 0, "retry": 0, "failed": 0},
        {"sent": 0, "retry": 3, "failed": 0},
        {"sent": 2, "retry": 1, "failed": 0},
        {"sent": 1, "retry": 0, "failed": 0},
        {"sent": 0, "retry": 0, "failed": 0},
    ]
    assert Counter(rcpt for rcpts, _ in handler.messages for rcpt in rcpts) == Counter(RECIPIENTS)
    rows = outbox(session)
    assert {row.status for row in rows} == {EmailStatus.SENT.value}
    assert sorted(row.attempts for row in rows) == [4, 4, 5]
