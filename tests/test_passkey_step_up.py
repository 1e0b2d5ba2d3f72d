"""Step-up ("Confirm it's you") before a passkey is added or removed. The
ceremony's JSON routes cannot show the prompt: "Add a passkey" asks for the
proof, and the JSON routes refuse without a fresh one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.conftest import PASSWORD, sign_in
from tests.mfa_support import enable_mfa, password_step, submit_code
from tests.passkey_support import ORIGIN, SoftAuthenticator, add_passkey, confirm_add, options
from webapp.models import Passkey, System, User, utcnow

OPTIONS = "/profile/passkeys/options"
clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": ORIGIN}


@pytest.fixture
def ann(factory):
    return factory.user(email="ann@example.com", name="Ann")


def passkeys_of(session, user) -> list[Passkey]:
    session.expire_all()
    return list(session.exec(select(Passkey).where(Passkey.user_id == user.id)))


def refused(response) -> bool:
    return response.status_code == 403 and "Confirm it's you first" in response.get_json()["error"]


def test_adding_needs_a_fresh_proof(client, ann, session, clock):
    sign_in(client, "ann@example.com")  # signing in is not a proof
    token = client.csrf_token("/profile")
    assert refused(client.post(OPTIONS, headers={"X-CSRFToken": token}))
    # A credential made for an earlier (proved) options call is refused all the same.
    assert refused(
        client.post_form("/profile/passkeys", {"credential": "{}"}, token_from="/profile")
    )
    # "Add a passkey" asks first, with the password for a user without MFA.
    dialog = client.get("/profile/passkeys/new").get_data(as_text=True)
    assert "Continue" in dialog and "Create passkey" not in dialog
    prompt = client.post_form("/profile/passkeys/new", token_from="/profile")
    assert prompt.status_code == 200 and "Confirm it's you" in prompt.get_data(as_text=True)
    assert "Create passkey" not in prompt.get_data(as_text=True)
    wrong = client.post_form(
        "/profile/passkeys/new", {"current_password": "not it"}, token_from="/profile"
    )
    assert wrong.status_code == 422 and passkeys_of(session, ann) == []
    opened = confirm_add(client)
    assert opened.status_code == 200 and "Create passkey" in opened.get_data(as_text=True)
    assert add_passkey(client, SoftAuthenticator(), proof=False).status_code == 200
    assert len(passkeys_of(session, ann)) == 1
    assert "Create passkey" in client.get("/profile/passkeys/new").get_data(as_text=True)
    # The proof lasts 10 minutes.
    clock.advance(minutes=10, seconds=1)
    token = client.csrf_token("/profile")
    assert refused(client.post(OPTIONS, headers={"X-CSRFToken": token}))
    assert len(passkeys_of(session, ann)) == 1


def test_a_user_with_mfa_proves_with_a_code_not_the_password(app, client, ann, session, clock):
    enable_mfa(app, session, ann)
    password_step(client, "ann@example.com")
    assert submit_code(client, clock.code()).status_code == 302
    client.post_form("/profile/passkeys/new", {"current_password": PASSWORD}, token_from="/profile")
    token = client.csrf_token("/profile")
    assert refused(client.post(OPTIONS, headers={"X-CSRFToken": token}))
    clock.advance(seconds=30)
    assert add_passkey(client, SoftAuthenticator(), proof={"code": clock.code()}).status_code == 200


def test_a_required_enrolment_adds_a_first_passkey_without_a_proof(client, ann, session):
    # The firm requires MFA (Ann before her deadline) and she has none: no
    # proof can be asked of her (the step-up offers no password then).
    system = session.get(System, ann.system_id)
    system.mfa_required = True
    user = session.get(User, ann.id)
    user.mfa_deadline = utcnow() + timedelta(days=7)
    session.add_all([system, user])
    session.commit()
    sign_in(client, "ann@example.com")
    assert add_passkey(client, SoftAuthenticator(), proof=False).status_code == 200
    assert len(passkeys_of(session, ann)) == 1


def test_past_the_deadline_a_passkey_is_a_way_to_enrol(client, ann, session):
    """Sent to the MFA setup with nothing else reachable, Ann may enrol with a
    passkey instead of an app; then she is free to go."""
    system = session.get(System, ann.system_id)
    system.mfa_required = True
    user = session.get(User, ann.id)
    user.mfa_deadline = utcnow() - timedelta(days=1)
    session.add_all([system, user])
    session.commit()
    sign_in(client, "ann@example.com")
    assert client.get("/profile").headers["Location"] == "/profile/mfa/setup"
    setup = client.get("/profile/mfa/setup").get_data(as_text=True)
    assert 'href="/profile/passkeys/new"' in setup and "Add a passkey" in setup
    assert client.get("/profile/passkeys/new").status_code == 200
    created = SoftAuthenticator().create(
        options(client, "/profile/passkeys/options", "/profile/mfa/setup")
    )
    added = client.post_form(
        "/profile/passkeys", {"credential": created}, token_from="/profile/mfa/setup"
    )
    assert added.status_code == 200 and "recovery code" in added.get_data(as_text=True).lower()
    assert len(passkeys_of(session, ann)) == 1
    assert client.get("/profile").status_code == 200


def test_removing_needs_a_fresh_proof(app, client, ann, session, clock):
    enable_mfa(app, session, ann)
    password_step(client, "ann@example.com")
    assert submit_code(client, clock.code()).status_code == 302
    clock.advance(seconds=30)
    assert add_passkey(client, SoftAuthenticator(), proof={"code": clock.code()}).status_code == 200
    [passkey] = passkeys_of(session, ann)
    remove = f"/profile/passkeys/{passkey.id}/remove"
    # A new sign-in has no proof: "Remove" asks, and nothing is removed until then.
    client.post_form("/sign-out", token_from="/profile")
    password_step(client, "ann@example.com")
    clock.advance(seconds=30)
    assert submit_code(client, clock.code()).status_code == 302
    prompt = client.post_form(remove, token_from="/profile")
    assert prompt.status_code == 200 and "Confirm it's you" in prompt.get_data(as_text=True)
    assert len(passkeys_of(session, ann)) == 1
    clock.advance(seconds=30)
    response = client.post_form(remove, {"code": clock.code()}, token_from="/profile")
    assert response.status_code == 302
    assert passkeys_of(session, ann) == []


def test_a_proof_older_than_ten_minutes_does_not_remove(app, client, ann, session, clock):
    sign_in(client, "ann@example.com")
    authenticator = SoftAuthenticator()
    assert add_passkey(client, authenticator).status_code == 200
    assert add_passkey(client, authenticator, proof=False).status_code == 200  # a second one
    first = passkeys_of(session, ann)[0]
    clock.advance(minutes=10, seconds=1)
    prompt = client.post_form(f"/profile/passkeys/{first.id}/remove", token_from="/profile")
    assert "Confirm it's you" in prompt.get_data(as_text=True)
    assert len(passkeys_of(session, ann)) == 2
