"""The heads-up and reminder jobs end to end: Redis, a Celery worker, an SMTP server."""

from __future__ import annotations

from datetime import date

import pytest

from tests.heads_up_helpers import add_admin, add_users, outbox, set_rule
from tests.jobs.conftest import wait_until
from webapp.models import EmailStatus
from webapp.tasks import heads_up_tick, run_heads_up, send_heads_up_now, sweep_outbox

FAR_FUTURE = date(2999, 1, 1)  # "already ran": not due


def result(task, *args):
    """Run `task` on the worker and wait for what it returns."""
    return task.apply_async(args, ignore_result=False).get(timeout=20)


def all_sent(session, count):
    rows = outbox(session)
    return len(rows) == count and all(row.status == EmailStatus.SENT.value for row in rows)


@pytest.fixture
def firm(factory, session):
    """A due NZ firm (rule hour 0: due as soon as its date has not run)."""
    system = factory.system("Kauri & Co", country="NZ", timezone="Pacific/Auckland")
    admins = [add_admin(session, system, "Ada Admin"), add_admin(session, system, "Ben Boss")]
    lacking = add_users(session, system, ["Carla Clerk"])
    add_users(session, system, ["Eve Enrolled"], mfa=True)
    set_rule(session, system, hour=0)
    other = factory.system("Other Firm", timezone="Australia/Sydney")
    outsider = add_admin(session, other, "Olga Other")
    add_users(session, other, ["Oscar Outsider"])
    set_rule(session, other, hour=0, last_run_local_date=FAR_FUTURE)
    return {"system": system, "admins": admins, "lacking": lacking, "outsider": outsider}


def test_the_digest_reaches_each_admin_of_the_due_system_and_no_one_else(
    worker, smtp, session, firm
):
    assert result(heads_up_tick) == 1
    wait_until(lambda: all_sent(session, 2), what="two digests sent")
    received = smtp.handler.messages
    assert sorted(rcpt for rcpts, _ in received for rcpt in rcpts) == sorted(
        admin.email for admin in firm["admins"]
    )
    for _, message in received:
        assert message["Subject"] == "Heads up: 3 of 4 users of Kauri & Co lack MFA"
        text = message.get_body(("plain",)).get_content()
        for user in [*firm["admins"], *firm["lacking"]]:
            assert f"{user.display_name} <{user.email}>" in text
        assert "Eve Enrolled" not in text
        assert "Oscar Outsider" not in text
        assert message.get_body(("html",)) is not None


def test_running_the_tick_twice_sends_nothing_new(worker, smtp, session, firm):
    assert result(heads_up_tick) == 1
    wait_until(lambda: all_sent(session, 2), what="two digests sent")
    assert result(heads_up_tick) == 0
    # Even a run forced again for the same systems is a no-op: claimed for today.
    assert result(run_heads_up, [firm["system"].id]) == {"systems": 0, "digests": 0, "reminders": 0}
    assert result(sweep_outbox) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(smtp.handler.messages) == 2


def test_a_second_run_of_the_same_day_sends_no_duplicates(worker, smtp, session, factory):
    """Two beats (or a replayed task) running the same system and date: outbox dedupe
    and the weekly reminder stamp keep every email single."""
    system = factory.system("Totara Law", country="NZ", accounting="xero")
    add_admin(session, system)
    add_users(session, system, ["Carla Clerk", "Dan Drafter"])
    set_rule(session, system, hour=0)
    assert result(run_heads_up, [system.id]) == {"systems": 1, "digests": 1, "reminders": 3}
    wait_until(lambda: all_sent(session, 4), what="digest and reminders sent")

    set_rule(session, system, last_run_local_date=None)  # as if the claim were lost
    assert result(run_heads_up, [system.id]) == {"systems": 1, "digests": 0, "reminders": 0}
    assert result(sweep_outbox) == {"sent": 0, "retry": 0, "failed": 0}
    kinds = sorted(message["Subject"].split(":")[0] for _, message in smtp.handler.messages)
    assert kinds == ["Heads up"] + ["Please set up multi-factor authentication for Totara Law"] * 3


def test_an_smtp_server_that_refuses_then_recovers_gets_the_email_once(worker, smtp, session, firm):
    smtp.handler.refuse = 1
    set_rule(session, firm["system"], recipient_ids=[firm["admins"][0].id])
    assert result(send_heads_up_now, firm["system"].id, "2026-11-27T08:00:00+00:00") == 1
    (row,) = wait_until(
        lambda: [row for row in outbox(session) if row.attempts == 1 and row.last_error],
        what="the refused attempt recorded",
    )
    assert row.status == EmailStatus.PENDING.value
    assert "451" in row.last_error
    assert smtp.handler.messages == []

    # The back-off passes: the periodic sweep sends it.
    row.next_attempt_at = row.created_at
    session.add(row)
    session.commit()
    assert result(sweep_outbox) == {"sent": 1, "retry": 0, "failed": 0}
    assert result(sweep_outbox) == {"sent": 0, "retry": 0, "failed": 0}
    (row,) = outbox(session)
    assert (row.status, row.attempts, row.last_error) == (EmailStatus.SENT.value, 2, None)
    assert [rcpts for rcpts, _ in smtp.handler.messages] == [[firm["admins"][0].email]]


def test_names_are_escaped_in_the_html_part_of_the_mail(worker, smtp, session, factory):
    system = factory.system("Escapes Ltd")
    add_admin(session, system)
    add_users(session, system, ["<b>Mallory</b>"])
    set_rule(session, system, hour=0)
    result(heads_up_tick)
    wait_until(lambda: smtp.handler.messages, what="the digest")
    (_, message) = smtp.handler.messages[0]
    html = message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in html
    assert "<b>Mallory" not in html
