"""An admin's reminders reach a real SMTP server: queued by the request,
delivered after its commit by the worker (Redis, Celery, aiosmtpd)."""

from __future__ import annotations

from tests.conftest import sign_in
from tests.heads_up_helpers import outbox
from tests.jobs.conftest import wait_until
from tests.step_up_support import confirm_its_you
from webapp.models import EmailStatus


def delivered(smtp, count: int) -> bool:
    return len(smtp.handler.messages) >= count


def test_send_reminder_and_remind_everyone_are_emailed_once(
    worker, smtp, client, factory, session
):
    firm = factory.system("Harbour Law")
    factory.user(firm, "ann@harbour.example", "Ann Admin", admin=True)
    zoe = factory.user(firm, "zoe@harbour.example", "Zoë Brown")
    factory.user(firm, "mere@harbour.example", "Mere Tūhoe")
    outsider = factory.user(factory.system("Other Firm"), "olga@other.example", "Olga Other")
    sign_in(client, "ann@harbour.example")
    confirm_its_you(client)

    client.post_form("/admin/reminders", {"user": str(zoe.id)}, token_from="/admin/users")
    wait_until(lambda: delivered(smtp, 1), what="Zoë's reminder")
    [(recipients, message)] = smtp.handler.messages
    assert recipients == ["zoe@harbour.example"]
    assert message["Subject"] == "Please set up multi-factor authentication for Harbour Law"
    assert "Ann Admin, an admin of Harbour Law, asked us to remind you" in (
        message.get_body(("plain",)).get_content()
    )

    client.post_form("/admin/reminders/everyone", {}, token_from="/admin/users")
    wait_until(lambda: delivered(smtp, 3), what="the others' reminders")
    client.post_form("/admin/reminders/everyone", {}, token_from="/admin/users")
    client.post_form("/admin/reminders", {"user": str(zoe.id)}, token_from="/admin/users")
    wait_until(
        lambda: all(row.status == EmailStatus.SENT.value for row in outbox(session)),
        what="every row sent",
    )
    recipients = sorted(rcpt for rcpts, _ in smtp.handler.messages for rcpt in rcpts)
    assert recipients == ["ann@harbour.example", "mere@harbour.example", "zoe@harbour.example"]
    assert outsider.email not in recipients
