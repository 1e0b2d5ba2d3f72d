"""Add user by invitation: the invited user is not active (no sign-in, not
counted, not reminded) until they set a password with the emailed link, which
works once for 7 days; the link leads on to the firm's MFA rule; resent and
revoked invitations end the old link; the email is unique across firms."""

from __future__ import annotations

import re

from sqlmodel import select

from tests.admin import conftest as admin_world
from tests.conftest import CsrfClient, sign_in
from tests.mfa_support import signed_in
from tests.passwords.conftest import NEW_PASSWORD, actions, emails
from tests.step_up_support import confirm_its_you
from webapp.accounts import NAME_CONTROL_CHARACTERS
from webapp.admin.invitations import EMAIL_CONTROL_CHARACTERS, EMAIL_TAKEN
from webapp.audit import Action
from webapp.models import PasswordToken, System, User
from webapp.passwords import tokens
from webapp.passwords.routes import INVITATION_SPENT
from webapp.passwords.tokens import Purpose

# The admin tests' world: Harbour Law with its admin Ann signed in, and another firm.
firm = admin_world.firm
admin_client = admin_world.admin_client
INVITATION_LINK = re.compile(r"(/invitation/[A-Za-z0-9_-]{20,})")


def add_user(client, email="nia.new@harbour.example", name="Nia New", role="user", **kw):
    return client.post_form(
        "/admin/users/new",
        {"email": email, "display_name": name, "role": role},
        token_from="/admin/users/new",
        **kw,
    )


def invitation_path(session, email="nia.new@harbour.example") -> str:
    return INVITATION_LINK.search(emails(session, "invitation", email)[-1].body_text).group(1)


def accept(client, path: str, password: str = NEW_PASSWORD):
    """Open the link and "Set password" (a browser of its own)."""
    opened = client.get(path)
    if opened.headers.get("Location") != "/password/set":
        return opened
    page = client.get("/password/set").get_data(as_text=True)
    assert "Set your password" in page and "Confirm new password" in page
    return client.post_form(
        "/password/set",
        {"new_password": password, "confirm_password": password},
        token_from="/password/set",
    )


def invited(session, email="nia.new@harbour.example") -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def test_an_invited_user_is_listed_not_active_and_cannot_sign_in(
    app, admin_client, session, firm, clock
):
    form = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert all(label in form for label in ("Email", "Display name", "Role", "Send invitation"))
    done = add_user(admin_client, role="admin")
    assert done.status_code == 302 and done.headers["Location"] == "/admin/users"
    user = invited(session)
    assert (user.active, tokens.invited(user), user.role, user.system_id) == (
        False,
        True,
        "admin",
        firm["system"].id,
    )
    listing = admin_client.get("/admin/users?q=nia").get_data(as_text=True)
    assert "Invited" in listing and "Resend invitation" in listing
    assert "Revoke invitation" in listing
    # One email through the outbox, the link's token stored only as a hash.
    [email] = emails(session, "invitation")
    assert email.recipient == "nia.new@harbour.example" and "Set your password" in email.body_text
    token = invitation_path(session).rsplit("/", 1)[1]
    rows = session.exec(select(PasswordToken).where(PasswordToken.user_id == user.id)).all()
    assert [row.purpose for row in rows] == [Purpose.INVITATION.value]
    assert token not in rows[0].token_hash
    assert (rows[0].expires_at - clock.now).days == 7
    assert [event.subject_id for event in actions(session, Action.USER_INVITED)] == [user.id]
    # Not active: no sign-in by any password, not in the "active without MFA" rules.
    assert sign_in(CsrfClient(app), "nia.new@harbour.example").status_code == 422
    assert (
        session.exec(select(User).where(User.active_without_mfa, User.id == user.id)).first()
        is None
    )


def test_the_email_must_be_new_everywhere_and_clean(admin_client, session, firm):
    taken = add_user(admin_client, email="ZOE@other.example")  # another firm's user
    body = taken.get_data(as_text=True)
    assert taken.status_code == 422 and EMAIL_TAKEN in body and "Other Firm" not in body
    for email, name, message in (
        ("a\nb@harbour.example", "Ann", EMAIL_CONTROL_CHARACTERS),
        ("ok@harbour.example", "Bad\u2028Name", NAME_CONTROL_CHARACTERS),
    ):
        refused = add_user(admin_client, email=email, name=name)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert add_user(admin_client, email="not-an-email").status_code == 422
    assert emails(session, "invitation") == []


def test_adding_a_user_asks_confirm_its_you(app, client, session, firm):
    sign_in(client, "ann@harbour.example")  # no fresh proof
    asked = add_user(client)
    assert "Confirm it" in asked.get_data(as_text=True)
    assert session.exec(select(User).where(User.email == "nia.new@harbour.example")).first() is None


def test_the_link_sets_the_password_once_and_signs_in(app, admin_client, session, firm, clock):
    add_user(admin_client)
    path = invitation_path(session)
    newcomer = CsrfClient(app)
    done = accept(newcomer, path)
    assert done.status_code == 302
    assert signed_in(newcomer)
    user = invited(session)
    assert (user.active, tokens.invited(user)) == (True, False)
    assert [e.subject_id for e in actions(session, Action.PASSWORD_SET)] == [user.id]
    assert emails(session, "password_changed") == []
    # Reused: the clear page, in another browser too.
    again = CsrfClient(app).get(path)
    assert again.headers["Location"] == "/invitation/ended"
    ended = CsrfClient(app).get("/invitation/ended")
    assert ended.status_code == 410 and INVITATION_SPENT.split(".")[0] in ended.get_data(
        as_text=True
    )
    # The password set works for signing in.
    assert sign_in(CsrfClient(app), "nia.new@harbour.example", NEW_PASSWORD).status_code == 302


def test_a_firm_requiring_mfa_sends_the_newcomer_to_the_setup(
    app, admin_client, session, firm, clock
):
    admin_world.enable_mfa(app, session, firm["ann"].id)  # the admin meets the rule herself
    system = session.get(System, firm["system"].id)
    system.mfa_required = True
    session.add(system)
    session.commit()
    add_user(admin_client)
    newcomer = CsrfClient(app)
    accept(newcomer, invitation_path(session))
    landing = newcomer.get("/profile")
    assert landing.status_code == 302 and landing.headers["Location"].startswith(
        "/profile/mfa/setup"
    )


def test_an_expired_link_is_refused(app, admin_client, session, firm, clock):
    add_user(admin_client)
    path = invitation_path(session)
    clock.advance(days=7, seconds=1)
    newcomer = CsrfClient(app)
    assert accept(newcomer, path).headers["Location"] == "/invitation/ended"
    assert not invited(session).active


def test_a_resent_invitation_ends_the_old_link(app, admin_client, session, firm, clock):
    add_user(admin_client)
    old = invitation_path(session)
    user = invited(session)
    resent = admin_client.post_form(
        f"/admin/users/{user.id}/invitation/resend", {}, token_from="/admin/users"
    )
    assert resent.status_code == 302
    new = invitation_path(session)
    assert new != old and len(emails(session, "invitation")) == 2
    assert accept(CsrfClient(app), old).headers["Location"] == "/invitation/ended"
    assert accept(CsrfClient(app), new).status_code == 302
    assert invited(session).active


def test_a_revoked_invitation_ends_the_link_and_leaves_the_user_deactivated(
    app, admin_client, session, firm, clock
):
    add_user(admin_client)
    path = invitation_path(session)
    newcomer = CsrfClient(app)
    assert newcomer.get(path).headers["Location"] == "/password/set"  # opened before
    user = invited(session)
    revoked = admin_client.post_form(
        f"/admin/users/{user.id}/invitation/revoke", {}, token_from="/admin/users"
    )
    assert revoked.status_code == 302
    user = invited(session)
    assert (user.active, tokens.invited(user)) == (False, False)
    assert [e.subject_id for e in actions(session, Action.INVITATION_REVOKED)] == [user.id]
    # The page already open refuses too.
    refused = newcomer.post_form(
        "/password/set",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        token_from="/sign-in",
    )
    assert refused.headers["Location"] == "/invitation/ended"
    assert "Invited" not in admin_client.get("/admin/users?q=nia").get_data(as_text=True)


def test_another_firms_admin_cannot_touch_the_invitation(app, admin_client, session, firm):
    add_user(admin_client)
    user = invited(session)
    outsider = CsrfClient(app)
    sign_in(outsider, "zoe@other.example")
    confirm_its_you(outsider)
    answer = outsider.post_form(
        f"/admin/users/{user.id}/invitation/revoke", {}, token_from="/admin/users"
    )
    assert answer.status_code == 404
    assert tokens.invited(invited(session))


def test_made_active_by_edit_user_the_invitation_is_over(app, admin_client, session, firm, clock):
    add_user(admin_client)
    path = invitation_path(session)
    user = invited(session)
    saved = admin_client.post_form(
        f"/admin/users/{user.id}",
        {"display_name": user.display_name, "role": "user", "active": "y"},
    )
    assert saved.status_code == 302
    user = invited(session)
    assert (user.active, user.invited_at) == (True, None)
    assert accept(CsrfClient(app), path).headers["Location"] == "/invitation/ended"

