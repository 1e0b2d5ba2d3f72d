"""Outbox delivery against a real SMTP server."""

from __future__ import annotations

from sqlmodel import Session

from tests.heads_up_helpers import REMINDER
from webapp import mail
from webapp import outbox as outbox_service
from webapp.models import EmailStatus, OutboundEmail


def queue_three(app) -> list[int]:
    """Three pending rows (the test's own session: an app session would ask for
    their delivery on commit)."""
    ids = []
    with app.app_context(), Session(app.extensions["firmguard_db"]) as session:
        for number in range(3):
            ids.append(
                outbox_service.queue_email(
                    session,
                    recipient=f"user{number}@example.com",
                    dedupe_key=f"reminder:{number}:2026-11-27",
                    **REMINDER,
                )
            )
        session.commit()
    return ids


def test_a_batch_is_sent_over_one_connection(app, session, smtp):
    queue_three(app)
    with app.app_context():
        assert mail.sweep(session) == {"sent": 3, "retry": 0, "failed": 0}
    assert smtp.handler.connections == 1
    assert sorted(rcpts[0] for rcpts, _ in smtp.handler.messages) == [
        f"user{number}@example.com" for number in range(3)
    ]


def test_a_refused_message_does_not_stop_the_rest_of_the_batch(app, session, smtp):
    ids = queue_three(app)
    smtp.handler.refuse = 1
    with app.app_context():
        assert mail.deliver_due(session, ids=ids) == {"sent": 2, "retry": 1, "failed": 0}
    session.expire_all()
    statuses = sorted(session.get(OutboundEmail, row_id).status for row_id in ids)
    assert statuses == [EmailStatus.PENDING.value, EmailStatus.SENT.value, EmailStatus.SENT.value]
