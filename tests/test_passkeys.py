"""Passkeys with a software authenticator (tests/passkey_support.py): My
Profile's add, rename and remove, and the second sign-in step with one, under
the code step's rules. Each rule is tried and must hold."""

from __future__ import annotations

import pytest
from flask import session as browser_session
from sqlmodel import Session, select

from tests import mfa_support
from tests.concurrency import at_the_same_moment
from tests.conftest import sign_in
from tests.mfa_support import enable_mfa, password_step, signed_in, submit_code
from tests.passkey_support import (
    ORIGIN,
    SoftAuthenticator,
    add_passkey,
    confirm_add,
    options,
    post_assertion,
    use_passkey,
)
from webapp.admin.user_edit import reset_mfa
from webapp.mfa import throttle
from webapp.mfa.services import Outcome
from webapp.models import (
    AuditEvent,
    Passkey,
    PasskeyChallenge,
    RecoveryCode,
    System,
    User,
    utcnow,
)
from webapp.passkeys import challenges
from webapp.passkeys import sign_in as passkey_sign_in
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def app_overrides() -> dict:
    # A relying party must be a domain: the demo's 127.0.0.1 cannot be one.
    return {"BASE_URL": ORIGIN}


@pytest.fixture
def ann(factory):
    return factory.user(email="ann@example.com", name="Ann")


def actions(session, user) -> list[str]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == user.id)
            .order_by(AuditEvent.id)
        )
    )


def passkeys(session, user) -> list[Passkey]:
    session.expire_all()
    return list(session.exec(select(Passkey).where(Passkey.user_id == user.id)))


def signed_in_with_passkey(client, ann, session) -> SoftAuthenticator:
    """Ann (no MFA before) signs in and adds a passkey; then signs out."""
    authenticator = SoftAuthenticator()
    sign_in(client, "ann@example.com")
    assert add_passkey(client, authenticator).status_code == 200
    client.post_form("/sign-out", token_from="/profile")
    return authenticator


def test_a_first_passkey_turns_mfa_on_with_recovery_codes(client, ann, session, mailbox):
    sign_in(client, "ann@example.com")
    response = add_passkey(
        client,
        SoftAuthenticator(),
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Passkey added." in body and "Multi-factor authentication is now on." in body
    assert body.count("<li><code>") == 10  # the recovery codes, shown once
    [passkey] = passkeys(session, ann)
    assert passkey.name == "Chrome on Linux" and passkey.user_verified
    user = session.get(User, ann.id)
    assert user.mfa_enabled and user.mfa_enabled_at is not None
    assert len(session.exec(select(RecoveryCode).where(RecoveryCode.user_id == ann.id)).all()) == 10
    assert actions(session, ann)[-2:] == ["mfa.enabled", "passkey.added"]
    assert [m["Subject"] for m in mailbox()] == ["A passkey was added to your account"]
    # My Profile lists it with its buttons.
    profile = client.get("/profile").get_data(as_text=True)
    assert "Chrome on Linux" in profile and "Rename" in profile and "Remove" in profile


def test_password_then_passkey_signs_in_and_the_counter_moves_on(client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    page = client.get("/sign-in/verify").get_data(as_text=True)
    assert "Use a passkey" in page and 'name="code"' not in page  # no app
    response = use_passkey(client, authenticator)
    assert response.headers["Location"] == "/profile"
    assert signed_in(client)
    [passkey] = passkeys(session, ann)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert actions(session, ann)[-2:] == ["passkey.used", "signin.succeeded"]


def test_an_app_user_sees_both_ways(app, client, ann, session, clock):
    enable_mfa(app, session, ann)
    password_step(client, "ann@example.com")
    response = submit_code(client, clock.code())
    assert response.status_code == 302, (response.status_code, response.get_data(as_text=True))
    clock.advance(seconds=30)  # the next code: the one used to sign in is spent
    add_passkey(client, SoftAuthenticator(), proof={"code": clock.code()})
    assert len(session.exec(select(RecoveryCode)).all()) == 0  # MFA was already on
    client.post_form("/sign-out", token_from="/profile")
    password_step(client, "ann@example.com")
    page = client.get("/sign-in/verify").get_data(as_text=True)
    assert "Verification code" in page and "Use a passkey" in page and "Use a recovery code" in page


def test_a_counter_that_goes_backwards_is_refused_and_audited(client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    assert use_passkey(client, authenticator, sign_count=5).headers["Location"] == "/profile"
    client.post_form("/sign-out", token_from="/profile")

    password_step(client, "ann@example.com")
    response = use_passkey(client, authenticator, sign_count=5)  # a clone's: not higher
    assert response.headers["Location"] == "/sign-in/verify"
    assert "That passkey was not accepted" in client.get("/sign-in/verify").get_data(as_text=True)
    assert not signed_in(client)
    assert "passkey.counter_regressed" in actions(session, ann)
    assert session.get(User, ann.id).mfa_failed_count == 1
    assert passkeys(session, ann)[0].sign_count == 5


def test_a_challenge_works_once(client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    assertion = authenticator.get(options(client, "/sign-in/passkey/options", "/sign-in/verify"))
    assert post_assertion(client, assertion).headers["Location"] == "/profile"
    client.post_form("/sign-out", token_from="/profile")

    password_step(client, "ann@example.com")
    # Replayed as it was, then after new options (its challenge is not theirs).
    assert post_assertion(client, assertion).headers["Location"] == "/sign-in/verify"
    options(client, "/sign-in/passkey/options", "/sign-in/verify")
    assert post_assertion(client, assertion).headers["Location"] == "/sign-in/verify"
    assert not signed_in(client)
    assert session.get(User, ann.id).mfa_failed_count == 2


def test_a_challenge_from_another_session_is_refused(app, client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    captured = options(client, "/sign-in/passkey/options", "/sign-in/verify")

    other = app.test_client()
    password_step(other, "ann@example.com")
    options(other, "/sign-in/passkey/options", "/sign-in/verify")  # its own challenge
    response = post_assertion(other, authenticator.get(captured))
    assert response.headers["Location"] == "/sign-in/verify"
    assert not signed_in(other)


def test_an_assertion_by_another_users_passkey_is_refused(app, client, ann, factory, session):
    factory.user(email="bob@example.com")
    bobs = SoftAuthenticator()
    sign_in(client, "bob@example.com")
    add_passkey(client, bobs)
    client.post_form("/sign-out", token_from="/profile")
    signed_in_with_passkey(app.test_client(), ann, session)

    password_step(client, "ann@example.com")
    # Bob's passkey, over Ann's challenge.
    response = use_passkey(client, bobs)
    assert response.headers["Location"] == "/sign-in/verify"
    assert not signed_in(client)
    assert session.get(User, ann.id).mfa_failed_count == 1


def test_wrong_assertions_lock_like_wrong_codes(client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    stranger = SoftAuthenticator()
    stranger.create({"user": {"id": "AA"}, "challenge": "AA"})
    for _ in range(throttle.MAX_FAILURES):
        use_passkey(client, stranger)
    assert session.get(User, ann.id).mfa_locked_until is not None
    # Now even her own passkey is not looked at.
    use_passkey(client, authenticator)
    assert not signed_in(client)
    assert "Too many wrong codes" in client.get("/sign-in/verify").get_data(as_text=True)


def test_one_assertion_in_two_simultaneous_requests_succeeds_once(app, client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    password_step(client, "ann@example.com")
    challenge_options = options(client, "/sign-in/passkey/options", "/sign-in/verify")
    with client.session_transaction() as cookie:
        token = cookie[challenges.TOKEN_KEY]
    assertion = authenticator.get(challenge_options)

    def attempt(wait):
        with app.test_request_context(), Session(app.extensions["firmguard_db"]) as own:
            browser_session[challenges.TOKEN_KEY] = token
            user = own.get(User, ann.id)
            wait()
            outcome = passkey_sign_in.check_second_step(own, user, assertion, utcnow()).outcome
            own.commit()
            return outcome

    assert sorted(at_the_same_moment(attempt)) == [Outcome.ACCEPTED, Outcome.WRONG]


def test_the_pending_step_rules_hold_for_passkeys(app, client, ann, session):
    authenticator = signed_in_with_passkey(client, ann, session)
    # No pending sign-in: no options, no sign-in.
    assert (
        client.post(
            "/sign-in/passkey/options", headers={"X-CSRFToken": client.csrf_token()}
        ).status_code
        == 409
    )
    password_step(client, "ann@example.com")
    assert use_passkey(client, authenticator).headers["Location"] == "/profile"


def test_rename_and_remove_a_second_passkey(client, ann, session, mailbox):
    sign_in(client, "ann@example.com")
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    add_passkey(client, authenticator)
    first, second = passkeys(session, ann)
    assert second.name == "Passkey (2)" and first.user_handle == second.user_handle

    response = client.post_form(
        f"/profile/passkeys/{second.id}/rename", {"name": "  Work   laptop "}
    )
    assert response.headers["Location"] == "/profile"
    assert passkeys(session, ann)[1].name == "Work laptop"
    response = client.post_form(f"/profile/passkeys/{second.id}/rename", {"name": ""})
    assert response.status_code == 422

    response = client.post_form(f"/profile/passkeys/{second.id}/remove", token_from="/profile")
    assert response.headers["Location"] == "/profile"
    assert [p.name for p in passkeys(session, ann)] == ["Passkey"]
    assert session.get(User, ann.id).mfa_enabled
    assert (
        "passkey.renamed" in actions(session, ann)
        and actions(session, ann)[-1] == "passkey.removed"
    )
    assert mailbox()[-1]["Subject"] == "A passkey was removed from your account"

    # The last method goes through Deactivate (its proof; refused where MFA is required).
    response = client.get(f"/profile/passkeys/{first.id}/remove")
    assert response.headers["Location"] == "/profile/mfa/deactivate"
    client.post_form(f"/profile/passkeys/{first.id}/remove", token_from="/profile")
    assert len(passkeys(session, ann)) == 1


def test_another_users_passkey_cannot_be_renamed_or_removed(client, ann, factory, session):
    factory.user(email="bob@example.com")
    sign_in(client, "bob@example.com")
    add_passkey(client, SoftAuthenticator())
    [bobs] = passkeys(
        session, session.exec(select(User).where(User.email == "bob@example.com")).one()
    )
    client.post_form("/sign-out", token_from="/profile")
    sign_in(client, "ann@example.com")
    assert client.get(f"/profile/passkeys/{bobs.id}/rename").status_code == 404
    assert (
        client.post_form(f"/profile/passkeys/{bobs.id}/remove", token_from="/profile").status_code
        == 404
    )


def test_a_credential_id_is_kept_once(client, ann, factory, session):
    factory.user(email="bob@example.com")
    authenticator = SoftAuthenticator()
    sign_in(client, "ann@example.com")
    add_passkey(client, authenticator)
    client.post_form("/sign-out", token_from="/profile")
    # The same credential registered again, by Bob.
    sign_in(client, "bob@example.com")
    confirm_add(client)
    registration = options(client, "/profile/passkeys/options", "/profile")
    created = authenticator.create(registration, again=authenticator.credentials[0])
    response = client.post_form("/profile/passkeys", {"credential": created}, token_from="/profile")
    assert response.status_code == 422
    assert "already added" in response.get_data(as_text=True)
    assert len(session.exec(select(Passkey)).all()) == 1


def test_registration_refuses_another_origin_and_a_used_challenge(client, ann, session):
    sign_in(client, "ann@example.com")
    phished = SoftAuthenticator(origin="https://firmguard.example.net")
    assert add_passkey(client, phished).status_code == 422
    created = SoftAuthenticator().create(options(client, "/profile/passkeys/options", "/profile"))
    assert (
        client.post_form(
            "/profile/passkeys", {"credential": created}, token_from="/profile"
        ).status_code
        == 200
    )
    assert (
        client.post_form(
            "/profile/passkeys", {"credential": created}, token_from="/profile"
        ).status_code
        == 422
    )
    assert len(passkeys(session, ann)) == 1


def test_deactivate_and_the_admin_reset_remove_every_passkey(app, client, ann, factory, session):
    signed_in_with_passkey(client, ann, session)
    admin = factory.user(
        system=session.get(System, ann.system_id), email="admin@example.com", admin=True
    )
    with app.test_request_context():
        user = session.get(User, ann.id)
        reset_mfa(session, admin=session.get(User, admin.id), user=user, now=utcnow())
        session.commit()
    assert passkeys(session, ann) == []
    assert not session.get(User, ann.id).mfa_enabled


def test_expired_challenges_are_deleted_by_the_retention_run(app, client, ann, session, clock):
    sign_in(client, "ann@example.com")
    confirm_add(client)
    options(client, "/profile/passkeys/options", "/profile")
    assert len(session.exec(select(PasskeyChallenge)).all()) == 1
    clock.advance(minutes=5, seconds=1)
    assert run_retention.delay().get()["passkey challenges"] == 1
    session.expire_all()
    assert session.exec(select(PasskeyChallenge)).all() == []
