"""Security settings: enforcement, country and accounting, the heads-up rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from tests.admin.conftest import edit_form, enable_mfa, set_fields
from tests.conftest import sign_in
from webapp.models import (
    AuditEvent,
    HeadsUpRule,
    System,
    User,
    utcnow,
)

# --- Security settings -------------------------------------------------------------


def test_enforcement_needs_the_admins_own_mfa_first(admin_client, session, firm):
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": "0"}
    )
    assert response.status_code == 422
    assert "Set up multi-factor authentication for your own account first" in (
        response.get_data(as_text=True)
    )
    session.expire_all()
    assert session.get(System, firm["system"].id).mfa_required is False
    assert session.get(User, firm["jose"].id).mfa_deadline is None


def test_enforcement_sets_deadlines_for_users_without_mfa(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    enable_mfa(app, session, firm["zoe"].id)
    set_fields(session, firm["mere"].id, active=False)
    page = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Require multi-factor authentication for all users" in page
    assert "Turning this on makes 2 active users without MFA set it up" in page

    before = utcnow()
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": "7"}
    )
    assert response.status_code == 302
    session.expire_all()
    system = session.get(System, firm["system"].id)
    assert (system.mfa_required, system.mfa_grace_days) == (True, 7)
    deadlines = {
        key: session.get(User, firm[key].id).mfa_deadline
        for key in ("ann", "jose", "liam", "zoe", "mere")
    }
    assert deadlines["ann"] is None and deadlines["zoe"] is None and deadlines["mere"] is None
    for key in ("jose", "liam"):
        assert before + timedelta(days=7) <= deadlines[key] <= utcnow() + timedelta(days=7)
    assert session.get(User, firm["outsider"].id).mfa_deadline is None
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "mfa.required_changed")
    ).one()
    assert event.details == {"required": True, "grace_days": 7, "users_with_deadline": 2}

    admin_client.post_form("/admin/security/enforcement", {"grace_days": "0"})
    session.expire_all()
    assert session.get(System, firm["system"].id).mfa_required is False
    assert session.get(User, firm["jose"].id).mfa_deadline is None


def test_enforcement_with_no_grace_means_the_next_sign_in(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    admin_client.post_form("/admin/security/enforcement", {"required": "y", "grace_days": "0"})
    session.expire_all()
    assert session.get(User, firm["jose"].id).mfa_deadline <= utcnow()
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "enrol at next sign-in" in body

    # José's next sign-in reaches only the setup page until he enrols.
    jose = app.test_client()
    sign_in(jose, "jose@harbour.example")
    for path in ("/profile", "/admin/users", "/mfa/prompt"):
        assert jose.get(path).headers["Location"].startswith("/profile/mfa/setup")
    assert jose.get("/profile/mfa/setup").status_code == 200


def test_reset_under_enforcement_gives_a_deadline(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    admin_client.post_form("/admin/security/enforcement", {"required": "y", "grace_days": "0"})
    enable_mfa(app, session, firm["zoe"].id)
    zoe = session.get(User, firm["zoe"].id)
    admin_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, mfa_enabled=None, accept_billing="y")
    )
    session.expire_all()
    assert session.get(User, zoe.id).mfa_deadline is not None


@pytest.mark.parametrize("grace", ["-1", "366", "soon", ""])
def test_enforcement_refuses_a_bad_grace_period(admin_client, session, firm, grace):
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": grace}
    )
    assert response.status_code == 422
    assert session.get(System, firm["system"].id).mfa_required is False


def test_country_and_accounting_show_when_compliance_applies(admin_client, session, firm):
    assert "Compliance applies" not in admin_client.get("/admin/security").get_data(as_text=True)
    response = admin_client.post_form(
        "/admin/security/system", {"country": "AU", "accounting": "xero"}
    )
    assert response.status_code == 302
    page = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Compliance applies" in page and "Australia" in page
    assert '<option selected value="xero">Xero</option>' in page
    system = session.get(System, firm["system"].id)
    assert (system.country, system.accounting_link) == ("AU", "xero")
    bad = admin_client.post_form("/admin/security/system", {"country": "XX", "accounting": "xero"})
    assert bad.status_code == 422


def test_heads_up_rule_settings(admin_client, factory, session, firm):
    bob = factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    response = admin_client.post_form(
        "/admin/security/heads-up",
        {
            "enabled": "y",
            "kind": "with_mfa",
            "hour": "18",
            "recipients": "chosen",
            "admins": [str(bob.id)],
        },
    )
    assert response.status_code == 302
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == firm["system"].id)).one()
    assert (rule.enabled, rule.kind, rule.hour, rule.recipient_ids) == (
        True,
        "with_mfa",
        18,
        [bob.id],
    )
    assert session.exec(
        select(AuditEvent).where(AuditEvent.action == "heads_up.rule_changed")
    ).one()


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "without_mfa", "hour": "24", "recipients": "all"},
        {"kind": "everyone", "hour": "7", "recipients": "all"},
        {"kind": "without_mfa", "hour": "7", "recipients": "chosen"},
        {"kind": "without_mfa", "hour": "7", "recipients": "chosen", "admins": ["999"]},
    ],
    ids=["hour", "kind", "no-recipient", "foreign-recipient"],
)
def test_heads_up_rule_refuses_bad_input(admin_client, session, firm, data):
    response = admin_client.post_form("/admin/security/heads-up", data)
    assert response.status_code == 422
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == firm["system"].id)).one()
    assert (rule.kind, rule.hour, rule.recipient_ids) == ("without_mfa", 7, None)
