"""`heads-up run` and the embedded job runner (no Redis: tasks run in-process)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobs.embedded import run_due_entries
from tests import mfa_support
from tests.heads_up_helpers import add_admin, add_users, outbox, set_rule
from webapp.tasks import request_send_now

clock = mfa_support.clock  # the fixture, under its own name


def test_heads_up_run_sends_now_once_per_local_date(app, session, factory, mailbox):
    system = factory.system("Totara Law", country="NZ", accounting="xero")
    admin = add_admin(session, system)
    add_users(session, system, ["Carla Clerk"])
    set_rule(session, system, hour=23)  # not due yet: the command runs it anyway
    quiet = factory.system("Quiet Firm")
    add_admin(session, quiet, "Quinn Quiet")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["heads-up", "run", "--system", "Totara Law"])
    assert result.exit_code == 0, result.output
    assert "1 digests and 2 reminders queued" in result.output
    assert f"heads_up  sent     {admin.email}" in result.output
    assert "Sent 3 emails." in result.output
    assert len(mailbox()) == 3

    again = runner.invoke(args=["heads-up", "run"])
    assert "Ran 1 of 2 systems (1 already ran today" in again.output
    assert len(mailbox()) == 4  # the other firm's admin: its own digest
    assert {row.recipient for row in outbox(session)} == {
        admin.email,
        "carlaclerk.1.0@example.com",
        "quinnquiet.2.0@example.com",
    }


def test_heads_up_run_for_an_unknown_system_fails(app):
    result = app.test_cli_runner().invoke(args=["heads-up", "run", "--system", "Nope"])
    assert result.exit_code == 1
    assert "No system called 'Nope'" in result.output


def test_the_embedded_runner_runs_each_entry_when_its_schedule_is_due(
    app, session, factory, clock
):
    # The clock stands still: the second look is in the same minute, however slow the first.
    system = factory.system("Kauri & Co")
    add_admin(session, system)
    set_rule(session, system, hour=0)
    celery_app = app.extensions["celery"]
    last_run: dict[str, datetime] = {}
    assert sorted(run_due_entries(celery_app, last_run)) == [
        "heads-up-tick",
        "outbox-sweep",
        "retention",
    ]
    assert [row.status for row in outbox(session)] == ["sent"]
    # Just ran: neither the hourly entries nor the minutely sweep is due again yet.
    assert run_due_entries(celery_app, last_run) == []
    assert all(moment.tzinfo == UTC for moment in last_run.values())


def test_send_now_from_a_request_delivers_at_once_without_redis(app, session, factory, mailbox):
    system = factory.system("Kauri & Co")
    admin = add_admin(session, system, mfa=True)
    set_rule(session, system, last_run_local_date=datetime(2999, 1, 1).date())
    with app.app_context():
        assert request_send_now(system.id) is True
    (message,) = mailbox()
    assert message["To"] == admin.email
    assert message["Subject"] == "All clear: every user of Kauri & Co has MFA"


@pytest.mark.parametrize("app_overrides", [{"REDIS_URL": "redis://127.0.0.1:9/0"}])
def test_send_now_reports_a_broker_outage(app, factory):
    system = factory.system("Kauri & Co")
    with app.app_context():
        assert request_send_now(system.id) is False
