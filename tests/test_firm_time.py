"""Times are shown on the firm's clock, the zone named, never in bare UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from tests.conftest import sign_in
from webapp import mail, outbox
from webapp.models import AuditEvent, System, User

# 22:30 UTC on 1 Dec 2026 is 09:30 the next morning in Sydney (AEDT, UTC+11).
MOMENT = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


@pytest.fixture
def sydney(factory, session):
    """A Sydney firm: Kim (admin) and Lee, who last signed in at MOMENT."""
    system = factory.system(name="Bondi Legal", country="AU", timezone="Australia/Sydney")
    factory.user(system, "kim@bondi.example", "Kim Admin", admin=True)
    lee = session.get(User, factory.user(system, "lee@bondi.example", "Lee Wong").id)
    lee.last_sign_in_at = MOMENT
    session.add(lee)
    session.commit()
    return system


def test_the_users_list_shows_last_sign_in_on_the_firms_clock(client, sydney):
    sign_in(client, "kim@bondi.example")
    page = client.get("/admin/users?q=lee").get_data(as_text=True)
    assert "<td>2026-12-02 09:30 AEDT</td>" in page


def test_the_audit_log_shows_when_on_the_firms_clock(client, session, sydney):
    sign_in(client, "kim@bondi.example")
    event = session.exec(select(AuditEvent).where(AuditEvent.system_id == sydney.id)).first()
    event.created_at = MOMENT
    session.add(event)
    session.commit()
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "2026-12-02 09:30:00 AEDT" in page
    assert "(UTC)" not in page


def test_emails_give_times_on_the_recipients_firms_clock(app, session, sydney, mailbox):
    user = session.exec(select(User).where(User.email == "lee@bondi.example")).one()
    with app.app_context():
        outbox.queue_email(
            session,
            kind="mfa_enabled",
            recipient=user.email,
            subject="Multi-factor authentication is on",
            template="mfa_enabled",
            dedupe_key="test",
            system_id=sydney.id,
            user=user,
            when=MOMENT,
        )
        session.commit()
        mail.deliver_due(session)
    body = mailbox()[0].get_body(("plain",)).get_content()
    assert "at 09:30 AEDT on 2 Dec 2026" in body


def test_security_settings_show_the_date_enforcement_began_locally(client, session, sydney):
    sign_in(client, "kim@bondi.example")
    system = session.get(System, sydney.id)
    system.mfa_required, system.mfa_required_since = True, MOMENT
    kim = session.exec(select(User).where(User.email == "kim@bondi.example")).one()
    kim.mfa_deadline = datetime(2099, 1, 1, tzinfo=UTC)  # in the grace period
    session.add_all([system, kim])
    session.commit()
    page = client.get("/admin/security").get_data(as_text=True)
    assert "Required since 2 Dec 2026." in page
