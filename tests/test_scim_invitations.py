"""SCIM-created users get an invitation email only when their firm asks for it
(Security settings → "Provisioning (SCIM)": "Email an invitation to users your
identity provider adds"; README, "Provisioning (SCIM)"). Invited, they are not
active until they set their password, though SCIM reads them as active."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from tests.conftest import CsrfClient, sign_in
from tests.mfa_support import signed_in
from tests.passwords.conftest import NEW_PASSWORD, emails
from tests.scim_support import Scim, make_token
from tests.step_up_support import confirm_its_you
from webapp.audit import Action
from webapp.models import AuditEvent, System, User
from webapp.passwords import tokens

LABEL = "Email an invitation to users your identity provider adds"
HELP = "They set a password from the email. Leave it off if your people sign in with single sign-on."
INVITATION_LINK = re.compile(r"(/invitation/[A-Za-z0-9_-]{20,})")
NEWCOMER = "nia@kauri.example"


@pytest.fixture
def firm(app, factory):
    """Kauri Law (an admin, a user, a SCIM token) and Rimu Legal (the same)."""
    system = factory.system("Kauri Law")
    other = factory.system("Rimu Legal")
    return {
        "system": system,
        "admin": factory.user(system, email="ana@kauri.example", name="Ana Admin", admin=True),
        "user": factory.user(system, email="ben@kauri.example", name="Ben User"),
        "secret": make_token(app, system),
        "other": other,
        "other_admin": factory.user(other, email="rua@rimu.example", name="Rua Admin", admin=True),
        "other_secret": make_token(app, other, name="Okta"),
    }


@pytest.fixture
def scim(app, firm) -> Scim:
    return Scim(app.test_client(), firm["secret"])


def turn_invitations(session, system: System, on: bool) -> None:
    system = session.get(System, system.id)
    system.scim_invitations = on
    session.add(system)
    session.commit()


def user_named(session, email: str = NEWCOMER) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def invitation_path(session, email: str = NEWCOMER) -> str:
    return INVITATION_LINK.search(emails(session, "invitation", email)[-1].body_text).group(1)


def box_checked(page: str) -> bool:
    [box] = re.findall(r'<input[^>]*name="send_invitations"[^>]*>', page)
    return " checked" in box


def save_setting(client, on: bool):
    data = {"send_invitations": "y"} if on else {}
    return client.post_form("/admin/security/scim/invitations", data, token_from="/admin/security")


def test_off_by_default_the_user_is_active_without_a_password_and_no_email(app, scim, firm, session):
    assert session.get(System, firm["system"].id).scim_invitations is False
    created = scim.create(NEWCOMER, "Nia New")
    assert created.status_code == 201 and created.json["active"] is True
    user = user_named(session)
    assert (user.active, user.invited_at) == (True, None)
    assert emails(session, "invitation") == []
    assert sign_in(CsrfClient(app), NEWCOMER, password="!").status_code == 422


def test_on_the_user_is_invited_and_the_link_makes_them_active(app, scim, firm, session):
    turn_invitations(session, firm["system"], True)
    created = scim.create(NEWCOMER, "Nia New")
    assert created.status_code == 201, created.get_data(as_text=True)
    # SCIM reads back what the provider asked for; Firmguard waits for the password.
    assert created.json["active"] is True
    assert scim.call("GET", f"/Users/{created.json['id']}").json["active"] is True
    assert scim.ids('?filter=active eq true').count(created.json["id"]) == 1
    assert created.json["id"] not in scim.ids('?filter=active eq false')
    user = user_named(session)
    assert (user.active, tokens.invited(user)) == (False, True)
    [email] = emails(session, "invitation", NEWCOMER)
    assert email.subject == "Kauri Law invited you to Firmguard"
    assert "Set your password" in email.body_text
    assert "Kauri Law invited you to Firmguard" in email.body_text
    [event] = session.exec(
        select(AuditEvent).where(AuditEvent.action == Action.SCIM_USER_CREATED.value)
    ).all()
    assert event.details == {"scim_token": "Entra ID", "invited": True}
    # The admin sees them as "Invited", with the invitation's buttons.
    admin = CsrfClient(app)
    sign_in(admin, firm["admin"].email)
    listing = admin.get("/admin/users?q=nia").get_data(as_text=True)
    assert "Invited" in listing and "Resend invitation" in listing
    assert "invitation emailed" in admin.get("/admin/audit").get_data(as_text=True)
    # Not active before the link: no sign-in.
    assert sign_in(CsrfClient(app), NEWCOMER, password="!").status_code == 422

    newcomer = CsrfClient(app)
    opened = newcomer.get(invitation_path(session))
    assert opened.headers["Location"] == "/password/set"
    done = newcomer.post_form(
        "/password/set",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        token_from="/password/set",
    )
    assert done.status_code == 302 and signed_in(newcomer)
    user = user_named(session)
    assert (user.active, tokens.invited(user)) == (True, False)
    assert scim.call("GET", f"/Users/{user.id}").json["active"] is True
    assert sign_in(CsrfClient(app), NEWCOMER, NEW_PASSWORD).status_code == 302


def test_a_user_created_inactive_gets_no_invitation(scim, firm, session):
    turn_invitations(session, firm["system"], True)
    created = scim.create(NEWCOMER, "Nia New", active=False)
    assert created.status_code == 201 and created.json["active"] is False
    user = user_named(session)
    assert (user.active, user.invited_at) == (False, None)
    assert emails(session, "invitation") == []


def test_changes_keep_the_invitation_and_deactivating_uses_it_up(app, scim, firm, session):
    turn_invitations(session, firm["system"], True)
    user_id = scim.create(NEWCOMER, "Nia New").json["id"]
    path = invitation_path(session)
    # The provider renaming them (its PATCH and PUT carry active: true) keeps the invitation open.
    renamed = scim.patch(user_id, {"op": "replace", "value": {"displayName": "Nia Newton"}})
    assert renamed.status_code == 200 and renamed.json["active"] is True
    replaced = scim.call(
        "PUT",
        f"/Users/{user_id}",
        {**renamed.json, "displayName": "Nia Newton-Rua", "active": True},
    )
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    user = user_named(session)
    assert tokens.invited(user) and user.display_name == "Nia Newton-Rua"
    # Entra's offboarding: active false. The link dies, and they are no longer "Invited".
    deactivated = scim.patch(user_id, {"op": "Replace", "value": {"active": "False"}})
    assert deactivated.status_code == 200 and deactivated.json["active"] is False
    user = user_named(session)
    assert (user.active, tokens.invited(user), user.invited_at) == (False, False, None)
    assert CsrfClient(app).get(path).headers["Location"] == "/invitation/ended"
    assert user_id in scim.ids("?filter=active eq false")
    [event] = session.exec(
        select(AuditEvent).where(AuditEvent.action == Action.SCIM_USER_UPDATED.value)
    ).all()[-1:]
    assert event.details["changes"]["active"] == [True, False]


def test_a_new_email_gets_a_new_link_and_the_old_one_dies(app, scim, firm, session):
    """The provider corrects a typo in the email: the link sent to the old
    address (someone else's, perhaps) no longer works; the new address gets one."""
    turn_invitations(session, firm["system"], True)
    user_id = scim.create(NEWCOMER, "Nia New").json["id"]
    old_path = invitation_path(session)
    corrected = "nia.new@kauri.example"
    moved = scim.patch(user_id, {"op": "replace", "path": "userName", "value": corrected})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    assert CsrfClient(app).get(old_path).headers["Location"] == "/invitation/ended"
    new_path = invitation_path(session, corrected)
    assert new_path != old_path
    assert tokens.invited(user_named(session, corrected))
    assert CsrfClient(app).get(new_path).headers["Location"] == "/password/set"


def test_delete_uses_up_an_open_invitation(app, scim, firm, session):
    turn_invitations(session, firm["system"], True)
    user_id = scim.create(NEWCOMER, "Nia New").json["id"]
    path = invitation_path(session)
    assert scim.call("DELETE", f"/Users/{user_id}").status_code == 204
    assert CsrfClient(app).get(path).headers["Location"] == "/invitation/ended"
    assert not tokens.invited(user_named(session))


def test_the_setting_needs_step_up_and_is_audited(app, firm, session):
    admin = CsrfClient(app)
    sign_in(admin, firm["admin"].email)
    page = admin.get("/admin/security").get_data(as_text=True)
    section = page.split("Provisioning (SCIM)")[1]
    assert LABEL in section and HELP in section and ">Save</button>" in section
    assert not box_checked(section)  # off by default

    asked = save_setting(admin, True)
    assert "Confirm it" in asked.get_data(as_text=True)  # the step-up first
    assert session.get(System, firm["system"].id).scim_invitations is False

    confirm_its_you(admin)
    saved = save_setting(admin, True)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/admin/security#scim")
    followed = admin.get("/admin/security").get_data(as_text=True)
    assert "Users your identity provider adds now get an invitation email." in followed
    assert box_checked(followed)
    session.expire_all()
    assert session.get(System, firm["system"].id).scim_invitations is True
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action == Action.SCIM_INVITATIONS_CHANGED.value)
    ).all()
    assert [(e.actor_id, e.details) for e in events] == [
        (firm["admin"].id, {"send_invitations": True})
    ]
    audit_page = admin.get("/admin/audit").get_data(as_text=True)
    assert "SCIM invitation emails changed" in audit_page

    assert save_setting(admin, False).status_code == 302
    session.expire_all()
    assert session.get(System, firm["system"].id).scim_invitations is False
    assert "get no invitation email" in admin.get("/admin/security").get_data(as_text=True)


def test_a_non_admin_cannot_change_the_setting(app, firm, session):
    user = CsrfClient(app)
    sign_in(user, firm["user"].email)
    refused = save_setting(user, True)
    assert refused.status_code == 403
    session.expire_all()
    assert session.get(System, firm["system"].id).scim_invitations is False


def test_one_firms_setting_does_not_apply_to_another(app, scim, firm, session):
    """Rimu Legal's admin turns invitations on: Kauri Law's new users get none."""
    rimu_admin = CsrfClient(app)
    sign_in(rimu_admin, firm["other_admin"].email)
    confirm_its_you(rimu_admin)
    assert save_setting(rimu_admin, True).status_code == 302
    session.expire_all()
    assert session.get(System, firm["other"].id).scim_invitations is True
    assert session.get(System, firm["system"].id).scim_invitations is False

    assert scim.create(NEWCOMER, "Nia New").status_code == 201
    assert user_named(session).active and emails(session, "invitation") == []
    rimu = Scim(app.test_client(), firm["other_secret"])
    assert rimu.create("tama@rimu.example", "Tama").status_code == 201
    assert [e.recipient for e in emails(session, "invitation")] == ["tama@rimu.example"]
    assert tokens.invited(user_named(session, "tama@rimu.example"))
