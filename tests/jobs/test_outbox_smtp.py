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


def test_poison_rows_fail_at_once_and_the_rest_of_the_batch_is_sent(app, session, smtp):
    """Among good rows: a recipient the server refuses for good (550), and a
    row whose subject would split into a second header (CR/LF: written before
    names were checked). Each fails at once, with its reason; the others go."""
    good, unknown, injected = queue_three(app)
    smtp.handler.unknown = {"user1@example.com"}
    row = session.get(OutboundEmail, injected)
    row.subject = "Please set up MFA\r\nBcc: everyone@example.com"
    session.add(row)
    session.commit()
    with app.app_context():
        last = outbox_service.queue_email(
            session, recipient="last@example.com", dedupe_key="reminder:last", **REMINDER
        )
        session.commit()
        assert mail.deliver_due(session) == {"sent": 2, "retry": 0, "failed": 2}
        assert mail.sweep(session) == {"sent": 0, "retry": 0, "failed": 0}  # none re-leased
    session.expire_all()
    rows = {row_id: session.get(OutboundEmail, row_id) for row_id in (good, unknown, injected, last)}
    assert [rows[good].status, rows[last].status] == [EmailStatus.SENT.value] * 2
    for row_id in (unknown, injected):
        assert (rows[row_id].status, rows[row_id].attempts) == (EmailStatus.FAILED.value, 1)
    assert "550" in rows[unknown].last_error and "No such user" in rows[unknown].last_error
    assert "Subject header holds a control character" in rows[injected].last_error
    assert sorted(rcpts[0] for rcpts, _ in smtp.handler.messages) == [
        "last@example.com",
        "user0@example.com",
    ]
    assert all(message["Bcc"] is None for _, message in smtp.handler.messages)
