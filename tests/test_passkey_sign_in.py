"""Passwordless "Sign in with a passkey" with a software authenticator
(tests/passkey_support.py): a discoverable credential with user verification
is the whole sign-in. Each rule is tried and must hold."""

from __future__ import annotations

import pytest
from flask import session as browser_session
from sqlmodel import Session, select

from tests.concurrency import at_the_same_moment
from tests.conftest import sign_in
from tests.mfa_support import signed_in
from tests.passkey_support import (
    ORIGIN,
    SoftAuthenticator,
    add_passkey,
    options,
    sign_in_with_passkey,
)
from webapp.crypto import encrypt_secret
from webapp.mfa import throttle
from webapp.mfa.services import Outcome
from webapp.models import AuditEvent, Passkey, SsoConfig, System, User, utcnow
from webapp.passkeys import challenges
from webapp.passkeys import sign_in as passkey_sign_in

REFUSED = "That passkey was not accepted"


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": ORIGIN}


@pytest.fixture
def ann(factory):
    # A firm that must comply (NZ, linked to accounting) and requires MFA.
    system = factory.system(country="NZ", accounting="xero")
    return factory.user(system, email="ann@example.com", name="Ann")


@pytest.fixture
def authenticator(client, ann) -> SoftAuthenticator:
    """Ann's passkey (her only method), added on My Profile; then signed out."""
    authenticator = SoftAuthenticator()
    sign_in(client, "ann@example.com")
    assert add_passkey(client, authenticator).status_code == 200
    client.post_form("/sign-out", token_from="/profile")
    return authenticator


def actions(session, user) -> list[str]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == user.id)
            .order_by(AuditEvent.id)
        )
    )


def refused(client, response) -> bool:
    """Back at the sign-in page, told so, and not signed in."""
    assert response.status_code == 303 and response.headers["Location"].startswith("/sign-in")
    return REFUSED in client.get("/sign-in").get_data(as_text=True) and not signed_in(client)


def require_mfa(session, user) -> None:
    system = session.get(System, user.system_id)
    system.mfa_required = True
    session.add(system)
    session.commit()


def test_a_passkey_alone_signs_in_on_a_fresh_session_counted_as_mfa(
    client, ann, authenticator, session
):
    require_mfa(session, ann)
    page = client.get("/sign-in").get_data(as_text=True)
    assert "Sign in with a passkey" in page
    with client.session_transaction() as cookie:
        cookie["left_over"] = "from before"
    response = sign_in_with_passkey(client, authenticator, next_target="/profile?tab=password")
    # No code step, no MFA prompt (required, and NZ with accounting): straight in.
    assert response.headers["Location"] == "/profile?tab=password"
    assert signed_in(client)
    with client.session_transaction() as cookie:
        assert "left_over" not in cookie and cookie["sign_in_method"] == "passkey"
    assert actions(session, ann)[-2:] == ["passkey.used", "auth.passkey_sign_in"]
    user = session.get(User, ann.id)
    assert user.last_sign_in_method == "passkey" and user.last_sign_in_at is not None
    assert session.exec(select(Passkey)).one().sign_count == 1


def test_user_verification_is_required(client, ann, authenticator, session):
    authenticator.user_verification = False  # presence only: one factor
    assert refused(client, sign_in_with_passkey(client, authenticator))
    assert session.get(User, ann.id).mfa_failed_count == 1
    assert "auth.passkey_sign_in" not in actions(session, ann)


def test_a_deactivated_user_is_refused(client, ann, authenticator, session):
    user = session.get(User, ann.id)
    user.active = False
    session.add(user)
    session.commit()
    assert refused(client, sign_in_with_passkey(client, authenticator))
    assert actions(session, ann)[-1] == "signin.failed"


def test_a_challenge_works_once_and_only_in_its_own_session(app, client, ann, authenticator):
    challenge = options(client, "/sign-in/with-passkey/options", "/sign-in")
    assertion = authenticator.get(challenge)
    # Captured: another browser (with its own challenge) sends it.
    other = app.test_client()
    options(other, "/sign-in/with-passkey/options", "/sign-in")
    response = other.post_form("/sign-in/with-passkey", {"credential": assertion})
    assert refused(other, response)
    # Its own browser's challenge was not used up by that: it is still good once…
    response = client.post_form(
        "/sign-in/with-passkey", {"credential": authenticator.get(challenge)}
    )
    assert response.headers["Location"] == "/profile" and signed_in(client)
    client.post_form("/sign-out", token_from="/profile")
    # …and never again, even after new options (their challenge is another).
    again = authenticator.get(challenge)
    assert refused(client, client.post_form("/sign-in/with-passkey", {"credential": again}))
    options(client, "/sign-in/with-passkey/options", "/sign-in")
    assert refused(client, client.post_form("/sign-in/with-passkey", {"credential": again}))


def test_the_account_the_authenticator_names_must_own_the_passkey(
    client, ann, authenticator, session
):
    authenticator.credentials[0].user_handle = b"someone else"
    assert refused(client, sign_in_with_passkey(client, authenticator))
    assert session.get(User, ann.id).mfa_failed_count == 1


def test_a_counter_that_goes_backwards_is_refused(client, ann, authenticator, session):
    assert sign_in_with_passkey(client, authenticator, sign_count=7).status_code == 302
    client.post_form("/sign-out", token_from="/profile")
    assert refused(client, sign_in_with_passkey(client, authenticator, sign_count=7))
    assert "passkey.counter_regressed" in actions(session, ann)


def test_a_locked_user_cannot_sign_in_with_a_passkey(client, ann, authenticator, session):
    authenticator.user_verification = False
    for _ in range(throttle.MAX_FAILURES):
        sign_in_with_passkey(client, authenticator)
    assert session.get(User, ann.id).mfa_locked_until is not None
    authenticator.user_verification = True
    sign_in_with_passkey(client, authenticator)
    assert not signed_in(client)
    assert "Too many wrong codes" in client.get("/sign-in").get_data(as_text=True)


def test_sso_only_refuses_it_but_for_break_glass_admins(app, client, factory, ann, session):
    admin = factory.user(session.get(System, ann.system_id), email="boss@example.com", admin=True)
    keys = {}
    for person in (ann, admin):
        keys[person.id] = SoftAuthenticator()
        sign_in(client, person.email)
        add_passkey(client, keys[person.id])
        client.post_form("/sign-out", token_from="/profile")
    with app.app_context():
        secret = encrypt_secret("secret")
    session.add(
        SsoConfig(
            system_id=ann.system_id,
            issuer="https://idp.example.com",
            client_id="firmguard",
            client_secret_encrypted=secret,
            requirement="sso_only",
            break_glass_ids=[admin.id],
            tested_at=utcnow(),
        )
    )
    session.commit()
    response = sign_in_with_passkey(client, keys[ann.id])
    assert response.status_code == 303 and not signed_in(client)
    assert "single sign-on only" in client.get("/sign-in").get_data(as_text=True)
    assert sign_in_with_passkey(client, keys[admin.id]).headers["Location"] == "/profile"
    assert signed_in(client)


def test_one_assertion_in_two_simultaneous_requests_signs_in_once(
    app, client, ann, authenticator, session
):
    challenge = options(client, "/sign-in/with-passkey/options", "/sign-in")
    with client.session_transaction() as cookie:
        token = cookie[challenges.TOKEN_KEY]
    assertion = authenticator.get(challenge)

    def attempt(wait):
        with app.test_request_context(), Session(app.extensions["firmguard_db"]) as own:
            browser_session[challenges.TOKEN_KEY] = token
            wait()
            check = passkey_sign_in.check_passwordless(own, assertion, utcnow()).check
            own.commit()
            return check

    results = at_the_same_moment(attempt)
    assert sorted(check.outcome for check in results) == [Outcome.ACCEPTED, Outcome.WRONG]
