"""`flask --app wsgi outbox status|retry|discard`: the backlog and the failed emails."""

from __future__ import annotations

import pytest

from tests import mfa_support
from tests.heads_up_helpers import REMINDER, outbox
from webapp import delivery
from webapp import outbox as outbox_service
from webapp.extensions import db
from webapp.models import EmailStatus

clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


@pytest.fixture
def failed(app, session, clock):
    """Three emails: two failed (their last error kept), one pending for 3 minutes."""
    with app.app_context():
        for key in ("one", "two", "waiting"):
            outbox_service.insert_rows(
                db.session,
                [outbox_service.email_row_values(recipient=f"{key}@example.com", dedupe_key=key, **REMINDER)],
            )
        delivery.take_queued_ids(db.session)  # no delivery asked for: they stay put
        db.session.commit()
    rows = {row.dedupe_key: row for row in outbox(session)}
    for key in ("one", "two"):
        rows[key].status, rows[key].attempts = EmailStatus.FAILED.value, 8
        rows[key].last_error = "SMTPRecipientsRefused: 550 no such user"
    session.commit()
    clock.advance(minutes=3)
    return rows


def test_status_shows_the_backlog_and_each_failed_email(cli, failed):
    result = cli("outbox", "status")
    assert result.exit_code == 0, result.output
    assert "Oldest pending email: 3 min 0 s" in result.output
    assert "Failed emails: 2" in result.output
    assert "By status: pending 1, sent 0, failed 2, discarded 0" in result.output
    assert f"#{failed['one'].id} reminder to one@example.com" in result.output
    assert "8 attempts: SMTPRecipientsRefused: 550 no such user" in result.output
    assert "outbox retry" in result.output


def test_retry_sends_failed_emails_again(cli, session, failed, mailbox):
    result = cli("outbox", "retry", "--id", str(failed["one"].id))
    assert result.exit_code == 0, result.output
    assert "1 failed email(s) will be sent again." in result.output
    rows = {row.dedupe_key: row for row in outbox(session)}
    # Delivered once the command committed (no Redis here: at once).
    assert (rows["one"].status, rows["two"].status) == ("sent", "failed")
    assert [message["To"] for message in mailbox()] == ["one@example.com"]


def test_discard_gives_up_on_failed_emails_only(cli, session, failed):
    result = cli("outbox", "discard", "--all")
    assert result.exit_code == 0, result.output
    assert "2 failed email(s) discarded." in result.output
    statuses = {row.dedupe_key: row.status for row in outbox(session)}
    assert statuses == {"one": "discarded", "two": "discarded", "waiting": "pending"}
    assert "Failed emails: 0" in cli("outbox", "status").output


@pytest.mark.parametrize("args", [[], ["--all", "--id", "1"]])
def test_retry_and_discard_need_ids_or_all(cli, session, failed, args):
    for command in ("retry", "discard"):
        result = cli("outbox", command, *args)
        assert result.exit_code == 2
        assert "Give --id N (one or more times) or --all." in result.output
    assert [row.status for row in outbox(session)].count("failed") == 2


def test_status_with_an_empty_outbox(cli):
    result = cli("outbox", "status")
    assert "Oldest pending email: none pending" in result.output
    assert "Failed emails: 0" in result.output
