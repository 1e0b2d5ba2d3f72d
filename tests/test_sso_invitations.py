"""Invitations in a firm with single sign-on, against a real OpenID provider
(tests/sso_support.py): the invited user's first sign-in through the firm's
provider accepts the invitation while its link is live, and only then (a
revoked or expired one is refused as any inactive user is, the provider's
word is checked as for everyone); the invitation email says how they sign in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from tests import mfa_support
from tests import test_sso_admin as sso_admin_world
from tests.admin import conftest as admin_world
from tests.admin.test_user_import import send_path, upload
from tests.passwords.conftest import actions, emails
from tests.passwords.test_invitations import INVITATION_LINK, accept, add_user, invited
from tests.scim_support import Scim, make_token
from tests.sso_support import configure_sso
from tests.test_sso_sign_in import audit_actions, shows, signed_in_as, sso_sign_in
from webapp.admin import invitations
from webapp.audit import Action
from webapp.models import PasswordToken, SsoConfig, SsoDomain, System, User
from webapp.passwords import tokens
from webapp.sso import flow
from webapp.sso.flow import MESSAGES, Reason

clock = mfa_support.clock  # the fixture, under its own name
# Alpha Law and its admin, and BASE_URL http://localhost (the provider's redirect).
alpha = sso_admin_world.alpha
app_overrides = sso_admin_world.app_overrides
firm = admin_world.firm
admin_client = admin_world.admin_client

SSO_BUTTON = "Sign in with single sign-on"
SSO_TOO = "You can also sign in with your firm's single sign-on instead"


def invite(app, session, admin, email: str, name: str = "Nina New") -> User:
    """ "Add user" as the admin's request runs it (the route is tested in tests/passwords)."""
    with app.test_request_context():
        user = invitations.invite(
            session,
            admin=session.get(User, admin.id),
            email=email,
            display_name=name,
            role="user",
            now=datetime.now(UTC),
        )
        session.commit()
    return user


def reloaded(session, user: User) -> User:
    session.expire_all()
    return session.get(User, user.id)


def live_links(session, user: User, now) -> list[PasswordToken]:
    session.expire_all()
    rows = session.exec(select(PasswordToken).where(PasswordToken.user_id == user.id)).all()
    return [row for row in rows if row.consumed_at is None and row.expires_at > now]


def users_page(app, oidc_provider, query: str) -> str:
    """The users list, as the firm's admin sees it (signed in through the provider)."""
    admin = app.test_client()
    response, _ = sso_sign_in(admin, oidc_provider, "adm@alpha.test")
    assert response.status_code == 302
    return admin.get(f"/admin/users?q={query}").get_data(as_text=True)


@pytest.mark.parametrize("requirement", ["mfa", "sso_or_mfa", "sso_only"])
def test_an_invited_users_first_single_sign_on_accepts_the_invitation(
    app, client, session, alpha, oidc_provider, requirement
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider, requirement=requirement)
    nina = invite(app, session, admin, "nina@alpha.test")
    assert "Invited" in users_page(app, oidc_provider, "nina")

    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert response.status_code == 302 and response.headers["Location"] == "/profile"
    assert "Nina New" in signed_in_as(client)
    nina = reloaded(session, nina)
    assert (nina.active, nina.invited_at, tokens.invited(nina)) == (True, None, False)
    assert nina.last_sign_in_method == "sso"
    assert live_links(session, nina, datetime.now(UTC)) == []
    last_two = [action for action, _ in audit_actions(session, system)][-2:]
    assert last_two == [Action.INVITATION_ACCEPTED_BY_SSO, "auth.sso_sign_in"]
    [accepted] = actions(session, Action.INVITATION_ACCEPTED_BY_SSO)
    assert (accepted.actor_id, accepted.subject_id) == (nina.id, nina.id)
    assert "Invited" not in users_page(app, oidc_provider, "nina")
    # The emailed link is used up (where the email shows one).
    link = INVITATION_LINK.search(emails(session, "invitation")[0].body_text)
    if link:
        assert accept(app.test_client(), link.group(1)).headers["Location"] == "/invitation/ended"
    # Signing in again is an ordinary single sign-on: nothing more to accept.
    again, _ = sso_sign_in(app.test_client(), oidc_provider, "nina@alpha.test")
    assert again.status_code == 302
    assert len(actions(session, Action.INVITATION_ACCEPTED_BY_SSO)) == 1


def assert_refused_as_inactive(session, client, system, response, user: User) -> None:
    assert response.status_code == 403
    assert shows(response, MESSAGES[Reason.NO_ACCOUNT])
    assert signed_in_as(client) is None
    assert not reloaded(session, user).active
    failures = [d for a, d in audit_actions(session, system) if a == "auth.sso_failed"]
    assert failures == [{"reason": "no_account", "inactive": True}]
    assert actions(session, Action.INVITATION_ACCEPTED_BY_SSO) == []


def test_after_a_revoke_the_provider_cannot_accept_the_invitation(
    app, client, session, alpha, oidc_provider
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider, requirement="sso_only")
    nina = invite(app, session, admin, "nina@alpha.test")
    with app.test_request_context():
        invitations.revoke(
            session,
            admin=session.get(User, admin.id),
            user=session.get(User, nina.id),
            now=datetime.now(UTC),
        )
        session.commit()
    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert_refused_as_inactive(session, client, system, response, nina)


def test_after_seven_days_the_provider_cannot_accept_the_invitation(
    app, client, session, alpha, oidc_provider, clock
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider, requirement="sso_only")
    now = clock.now
    # Invited 7 days and a minute ago; the provider's ID token is of today.
    clock.now = now - timedelta(days=7, minutes=1)
    nina = invite(app, session, admin, "nina@alpha.test")
    clock.now = now
    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert_refused_as_inactive(session, client, system, response, nina)
    assert tokens.invited(reloaded(session, nina))  # still "Invited": Resend works


def test_a_deactivated_invitee_is_refused(app, client, session, alpha, oidc_provider):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider)
    nina = invite(app, session, admin, "nina@alpha.test")
    row = session.get(User, nina.id)
    # No longer "Invited" (as after Edit user's Active off, which also ends the
    # link; left live here, so only the user's state refuses).
    row.invited_at = None
    session.add(row)
    session.commit()
    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert_refused_as_inactive(session, client, system, response, nina)


def test_the_provider_must_still_verify_the_email(app, client, session, alpha, oidc_provider):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider)
    una = invite(app, session, admin, "una@alpha.test", "Una")  # unverified at the provider
    response, _ = sso_sign_in(client, oidc_provider, "una@alpha.test")
    assert response.status_code == 403
    assert shows(response, MESSAGES[Reason.EMAIL_UNVERIFIED])
    assert tokens.invited(reloaded(session, una))
    assert len(live_links(session, una, datetime.now(UTC))) == 1


def test_another_firms_provider_cannot_accept_an_invitation(
    app, client, session, alpha, factory, oidc_provider
):
    """Beta Law invited nina@alpha.test; Alpha Law's provider vouches for that
    email, but only for its own firm: Beta's invitation stays open."""
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    beta = factory.system("Beta Law")
    beta_admin = factory.user(beta, email="boss@beta.test", name="Boss", admin=True)
    nina = invite(app, session, beta_admin, "nina@alpha.test")
    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert response.status_code == 403
    assert shows(response, MESSAGES[Reason.NO_ACCOUNT])
    assert signed_in_as(client) is None
    assert tokens.invited(reloaded(session, nina))
    assert actions(session, Action.INVITATION_ACCEPTED_BY_SSO) == []


# --- The invitation email -----------------------------------------------------


def sso_settings(session, firm, requirement: str, domains=("harbour.example",)) -> None:
    """A firm's single sign-on as settings left it (no provider is asked here)."""
    system_id = firm["system"].id
    session.add(
        SsoConfig(
            system_id=system_id,
            issuer="https://login.harbour.example",
            client_id="firmguard",
            client_secret_encrypted="",
            requirement=requirement,
        )
    )
    session.add_all(SsoDomain(system_id=system_id, domain=domain) for domain in domains)
    session.commit()


def test_under_sso_only_the_email_offers_single_sign_on_not_a_password(admin_client, session, firm):
    sso_settings(session, firm, "sso_only")
    assert add_user(admin_client).status_code == 302
    [email] = emails(session, "invitation")
    for body in (email.body_text, email.body_html):
        assert SSO_BUTTON in body and "Set your password" not in body
        assert "http://localhost/sign-in/sso" in body
        assert "no password to set" in body
        assert not INVITATION_LINK.search(body)
    assert f"{SSO_BUTTON}:\nhttp://localhost/sign-in/sso\n" in email.body_text
    # The link exists all the same: it is what keeps the invitation open 7 days.
    assert tokens.invited(invited(session))


@pytest.mark.parametrize("requirement", ["mfa", "sso_or_mfa"])
def test_where_passwords_are_allowed_the_email_sets_one_and_mentions_sso(
    admin_client, session, firm, requirement
):
    sso_settings(session, firm, requirement)
    add_user(admin_client)
    [email] = emails(session, "invitation")
    for body in (email.body_text, email.body_html):
        assert "Set your password" in body and INVITATION_LINK.search(body)
        assert SSO_TOO in body.replace("&#39;", "'")
    assert SSO_BUTTON + ":" not in email.body_text  # the button is the password's


def test_a_firm_without_sso_or_an_email_outside_its_domains_gets_the_password_email(
    admin_client, session, firm
):
    add_user(admin_client)
    sso_settings(session, firm, "sso_only", domains=("harbour-law.example",))
    add_user(admin_client, email="kahu@harbour.example", name="Kahu")
    for email in emails(session, "invitation"):
        assert "Set your password" in email.body_text and INVITATION_LINK.search(email.body_text)
        assert "single sign-on" not in email.body_text


def test_imported_users_get_the_firms_single_sign_on_email(admin_client, session, firm):
    sso_settings(session, firm, "sso_only")
    people = (
        "email,display name,role\nnia@harbour.example,Nia,User\nkahu@harbour.example,Kahu,User\n"
    )
    preview = upload(admin_client, people)
    sent = admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    assert sent.status_code == 302
    sent_emails = emails(session, "invitation")
    assert len(sent_emails) == 2
    assert all(SSO_BUTTON in email.body_text for email in sent_emails)
    assert not any(INVITATION_LINK.search(email.body_text) for email in sent_emails)


def test_a_user_the_identity_provider_adds_gets_the_single_sign_on_email(app, session, factory):
    kauri = factory.system("Kauri Law")
    row = session.get(System, kauri.id)
    row.scim_invitations = True
    session.add(row)
    session.commit()
    sso_settings(session, {"system": kauri}, "sso_only", domains=("kauri.example",))
    scim = Scim(app.test_client(), make_token(app, kauri))
    assert scim.create("nia@kauri.example", "Nia New").status_code == 201
    [email] = emails(session, "invitation")
    assert SSO_BUTTON in email.body_text and not INVITATION_LINK.search(email.body_text)
    assert "Kauri Law invited you" in email.body_text


def test_two_first_sign_ins_at_once_both_get_in(app, session, alpha):
    """A callback submitted twice: the sign-in that loses the claim on the link
    reads the row again and finds the invitation accepted by the other, so it
    lets them in too rather than saying there is no account."""
    _system, admin = alpha
    nina = invite(app, session, admin, "nina@alpha.test")
    now = datetime.now(UTC)
    with Session(session.get_bind()) as late:
        stale = late.get(User, nina.id)  # read before the other sign-in commits
        assert tokens.invited(stale)
        with Session(session.get_bind()) as first:
            flow.accept_invitation(first, first.get(User, nina.id), now)
            first.commit()
        flow.accept_invitation(late, stale, now)
        assert stale.active and not tokens.invited(stale)
        late.rollback()
    accepted = actions(session, Action.INVITATION_ACCEPTED_BY_SSO)
    assert len(accepted) == 1
