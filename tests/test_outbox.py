"""The outbox: dedupe, delivery without a broker, back-off and the retry cap."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.heads_up_helpers import REMINDER, outbox
from webapp import delivery, mail
from webapp import outbox as outbox_service
from webapp.models import EmailStatus, utcnow

CLOSED_PORT = 9  # discard: nothing listens on loopback here


def queue(app, key="reminder:1:2026-11-27", recipient="carla@example.com"):
    """A pending row, written by a session of the test's own (the app's sessions
    would ask for its delivery on commit)."""
    with app.app_context(), Session(app.extensions["firmguard_db"]) as session:
        row_id = outbox_service.queue_email(
            session, recipient=recipient, dedupe_key=key, **REMINDER
        )
        session.commit()
    return row_id


def test_a_dedupe_key_is_queued_once(app, session):
    first = queue(app)
    again = queue(app)
    assert first is not None
    assert again is None
    assert len(outbox(session)) == 1


@pytest.mark.parametrize("app_overrides", [{"REDIS_URL": f"redis://127.0.0.1:{CLOSED_PORT}/0"}])
def test_request_delivery_with_redis_down_fails_nothing_and_the_sweep_sends_later(
    app, session, mailbox
):
    row_id = queue(app)
    started = time.monotonic()
    with app.app_context():
        delivery.request_delivery([row_id])  # must not raise
    assert time.monotonic() - started < 10
    (row,) = outbox(session)
    assert row.status == EmailStatus.PENDING.value
    assert mailbox() == []

    with app.app_context():
        assert mail.sweep(session) == {"sent": 1, "retry": 0, "failed": 0}
    assert [message["To"] for message in mailbox()] == ["carla@example.com"]


@pytest.mark.parametrize("app_overrides", [{"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": CLOSED_PORT}])
def test_an_unreachable_server_backs_off_then_gives_up_visibly(app, session):
    row_id = queue(app)
    now = utcnow()
    waits = []
    with app.app_context():
        for _ in range(mail.MAX_ATTEMPTS):
            counts = mail.deliver_due(session, now, ids=[row_id])
            (row,) = outbox(session)
            if row.status == EmailStatus.PENDING.value:
                waits.append(row.next_attempt_at - now)
                # Not due again before its back-off has passed.
                assert mail.deliver_due(session, now, ids=[row_id])["retry"] == 0
                now = row.next_attempt_at
    assert counts == {"sent": 0, "retry": 0, "failed": 1}
    assert waits == [timedelta(minutes=2**n) for n in range(7)]
    assert row.status == EmailStatus.FAILED.value
    assert row.attempts == mail.MAX_ATTEMPTS
    assert "Connection refused" in row.last_error


def test_backoff_is_capped():
    assert mail.backoff(1) == timedelta(minutes=1)
    assert mail.backoff(30) == mail.BACKOFF_CAP


def test_a_row_being_sent_is_not_taken_by_a_second_worker(app, session):
    row_id = queue(app)
    now = utcnow()
    assert mail.claim(session, row_id, now) is True
    assert mail.claim(session, row_id, now) is False
    # A worker that died mid-send: the row is due again after the lease.
    later = now + mail.SEND_LEASE
    assert mail.claim(session, row_id, later) is True


def test_request_delivery_without_ids_sends_whatever_is_due(app, mailbox):
    queue(app, key="reminder:1:a", recipient="a@example.com")
    queue(app, key="reminder:2:a", recipient="b@example.com")
    with app.app_context():
        delivery.request_delivery()
    assert sorted(message["To"] for message in mailbox()) == ["a@example.com", "b@example.com"]
