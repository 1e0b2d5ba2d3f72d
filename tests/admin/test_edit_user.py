"""Edit user: name, role, active, and the MFA reset."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.admin.conftest import BILLING, edit_form, enable_mfa, listed_names
from tests.conftest import sign_in
from webapp.models import (
    AuditEvent,
    RecoveryCode,
    TotpCredential,
    User,
)

# --- Edit user and MFA reset -----------------------------------------------------


def test_edit_page_shows_the_mfa_section(admin_client, app, session, firm):
    enable_mfa(app, session, firm["zoe"].id)
    body = admin_client.get(f"/admin/users/{firm['zoe'].id}").get_data(as_text=True)
    assert "Multifactor Authentication" in body and "MFA Enabled" in body and BILLING in body
    assert 'id="mfa_enabled" name="mfa_enabled" role="switch" type="checkbox" value="y"' in body
    other = admin_client.get(f"/admin/users/{firm['jose'].id}").get_data(as_text=True)
    assert "An admin cannot turn it on for someone else" in other
    assert (
        "disabled"
        in other.split('id="mfa_enabled"')[0].rsplit("<input", 1)[1]
        + other.split('id="mfa_enabled"')[1].split(">", 1)[0]
    )


def test_reset_without_the_billing_acknowledgement_changes_nothing(
    admin_client, app, session, firm, mailbox
):
    enable_mfa(app, session, firm["zoe"].id)
    zoe = session.get(User, firm["zoe"].id)
    response = admin_client.post_form(
        f"/admin/users/{zoe.id}",
        edit_form(zoe, mfa_enabled=None, display_name="Zoë Renamed"),
    )
    assert response.status_code == 422
    assert "I accept the billing changes" in response.get_data(as_text=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    session.expire_all()
    zoe = session.get(User, zoe.id)
    assert (zoe.mfa_enabled, zoe.display_name) == (True, "Zoë Brown")
    assert session.exec(select(TotpCredential)).all() != []
    assert session.exec(select(AuditEvent)).all() == [] or all(
        event.action.startswith(("signin", "auth.step_up"))
        for event in session.exec(select(AuditEvent))
    )
    assert mailbox() == []


def test_reset_with_the_acknowledgement_removes_mfa_audits_emails_and_signs_out(
    app, client, admin_client, session, firm, mailbox
):
    zoe_client = app.test_client()
    sign_in(zoe_client, "zoe@harbour.example")  # before MFA: the password is enough
    enable_mfa(app, session, firm["zoe"].id)
    assert zoe_client.get("/profile").status_code == 200
    zoe = session.get(User, firm["zoe"].id)
    response = admin_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, mfa_enabled=None, accept_billing="y")
    )
    assert response.status_code == 302
    assert zoe_client.get("/profile").status_code == 302  # her sessions ended

    session.expire_all()
    zoe = session.get(User, firm["zoe"].id)
    assert (zoe.mfa_enabled, zoe.mfa_failed_count) == (False, 0)
    assert session.exec(select(TotpCredential)).all() == []
    assert session.exec(select(RecoveryCode)).all() == []
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset_by_admin")).one()
    assert (event.actor_id, event.subject_id) == (firm["ann"].id, zoe.id)
    assert event.details["billing_acknowledged"] is True
    [message] = mailbox()
    assert message["To"] == "zoe@harbour.example"
    text = message.get_body(("plain",)).get_content()
    assert "Ann Admin" in text and "reset multi-factor authentication" in text
    assert "set up MFA again" in text
    audit_page = admin_client.get("/admin/audit?action=mfa.reset_by_admin").get_data(as_text=True)
    assert "Zoë Brown (zoe@harbour.example)" in audit_page and "Ann Admin" in audit_page


def test_admin_cannot_turn_mfa_on_for_someone(admin_client, session, firm):
    jose = firm["jose"]
    response = admin_client.post_form(f"/admin/users/{jose.id}", edit_form(jose, mfa_enabled="y"))
    assert response.status_code == 422
    assert "cannot turn MFA on" in response.get_data(as_text=True)
    assert session.get(User, jose.id).mfa_enabled is False


def test_edit_name_role_and_active_updates_search_and_ends_sessions(
    app, admin_client, session, firm
):
    jose_client = app.test_client()
    sign_in(jose_client, "jose@harbour.example")
    jose = firm["jose"]
    response = admin_client.post_form(
        f"/admin/users/{jose.id}",
        edit_form(jose, display_name="Josefina Ōrākei", role="admin", active=None),
    )
    assert response.status_code == 302
    assert jose_client.get("/profile").status_code == 302
    session.expire_all()
    jose = session.get(User, jose.id)
    assert (jose.display_name, jose.role, jose.active) == ("Josefina Ōrākei", "admin", False)
    found = admin_client.get("/admin/users?q=orakei", headers={"HX-Request": "true"})
    assert listed_names(found) == ["Josefina Ōrākei"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.updated")).one()
    assert event.details["changes"]["role"] == ["user", "admin"]


@pytest.mark.parametrize(
    "overrides",
    [{"role": "user"}, {"active": None}],
    ids=["demote", "deactivate"],
)
def test_last_active_admin_is_protected(admin_client, factory, session, firm, overrides):
    ann = firm["ann"]
    response = admin_client.post_form(f"/admin/users/{ann.id}", edit_form(ann, **overrides))
    assert response.status_code == 422
    assert "last active admin" in response.get_data(as_text=True)
    session.expire_all()
    assert (session.get(User, ann.id).role, session.get(User, ann.id).active) == ("admin", True)
    # With another active admin, it is allowed.
    factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    response = admin_client.post_form(f"/admin/users/{ann.id}", edit_form(ann, **overrides))
    assert response.status_code == 302


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 201, "José\r\nBcc: all@example.com", "José\x1b[2J", "José\u2028"]
)
def test_edit_refuses_a_bad_name(admin_client, session, firm, name):
    jose = firm["jose"]
    response = admin_client.post_form(f"/admin/users/{jose.id}", edit_form(jose, display_name=name))
    assert response.status_code == 422
    if name.strip() and len(name) <= 200:
        assert "must not hold control characters" in response.get_data(as_text=True)
    assert session.get(User, jose.id).display_name == "José Álvarez"
