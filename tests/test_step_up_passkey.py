"""Step-up with a passkey: "Use a passkey" in "Confirm it's you", with the
software authenticator (tests/passkey_support.py). The held-back action is
carried out after an assertion by one of the user's own passkeys, over this
browser session's step-up challenge, used once, within 5 minutes, with user
verification; every other assertion is refused, shown, and counted as a wrong
code."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests import mfa_support
from tests import test_step_up as step_up_world
from tests.admin.conftest import edit_form
from tests.conftest import sign_in
from tests.passkey_support import (
    ORIGIN,
    SoftAuthenticator,
    add_passkey,
    b64url,
    options,
    sign_in_with_passkey,
)
from tests.step_up_support import CONFIRM, answer
from webapp.admin.audit_view import event_details, event_label
from webapp.models import AuditEvent, Passkey, User

clock = mfa_support.clock  # the fixture, under its own name

OPTIONS = "/step-up/passkey/options"
REFUSED = "That passkey was not accepted."
HX_DIALOG = {"HX-Request": "true", "HX-Target": "edit-user-body"}

firm = step_up_world.firm  # Harbour Law: Ann and Ben (admins), Zoë


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": ORIGIN}


def passkey_for(app, email: str) -> SoftAuthenticator:
    """`email`'s one method: a passkey added on My Profile (in a browser of its own)."""
    authenticator = SoftAuthenticator()
    browser = app.test_client()
    sign_in(browser, email)
    assert add_passkey(browser, authenticator).status_code == 200
    return authenticator


@pytest.fixture
def ann_key(app, firm, clock) -> SoftAuthenticator:
    return passkey_for(app, "ann@harbour.example")


@pytest.fixture
def ann_client(client, ann_key):
    """Ann signed in with her passkey alone: this session has no proof yet."""
    assert sign_in_with_passkey(client, ann_key).status_code == 302
    return client


def step_up_options(client) -> dict:
    """ "Use a passkey"'s options, fetched as static/js/passkeys.js does."""
    return options(client, OPTIONS, "/admin/security")


def role_change(client, firm, **kw):
    """Edit user: make Zoë an admin (held back until a proof)."""
    zoe = firm["zoe"]
    return client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, role="admin"), token_from="/admin/security", **kw
    )


def role_of(session, user) -> str:
    session.expire_all()
    return session.get(User, user.id).role


def passkey_row(session, user) -> Passkey:
    session.expire_all()
    return session.exec(select(Passkey).where(Passkey.user_id == user.id)).one()


def events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def refused(response) -> bool:
    """The prompt again, saying so."""
    body = response.get_data(as_text=True)
    return response.status_code == 422 and CONFIRM in body and REFUSED in body


def test_use_a_passkey_carries_out_the_held_back_role_change(
    ann_client, ann_key, session, firm, clock
):
    prompt = role_change(ann_client, firm)
    body = prompt.get_data(as_text=True)
    assert prompt.status_code == 200 and "Use a passkey" in body
    assert f'data-passkey-options="{OPTIONS}"' in body
    assert 'name="code"' in body  # a recovery code still proves
    # No app to take a code from: the field asks only for what she has.
    assert "One of your recovery codes (you have no authenticator app)." in body
    assert role_of(session, firm["zoe"]) == "user"

    found = step_up_options(ann_client)
    # Only Ann's passkey, and the person must be verified (not only present).
    assert [item["id"] for item in found["allowCredentials"]] == [
        b64url(ann_key.credentials[0].credential_id)
    ]
    assert found["userVerification"] == "required"
    done = answer(ann_client, prompt, passkey_assertion=ann_key.get(found))
    assert done.status_code == 302
    assert role_of(session, firm["zoe"]) == "admin"

    event = events(session, "auth.step_up")[-1]  # (the first: the password, to add the passkey)
    assert (event.actor_id, event.details["method"]) == (firm["ann"].id, "passkey")
    assert "with a passkey" in event_details(event.details, "Pacific/Auckland")
    passkey = passkey_row(session, firm["ann"])
    assert passkey.sign_count == 2 and passkey.last_used_at == clock.now  # sign-in, then this
    # Fresh for 10 minutes: the next sensitive action goes straight through.
    zoe = firm["zoe"]
    again = ann_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, role="user"), token_from="/admin/security"
    )
    assert again.status_code == 302 and role_of(session, zoe) == "user"


def test_in_the_dialog_a_passkey_confirms_in_place_and_the_dialog_closes(
    ann_client, ann_key, session, firm
):
    prompt = role_change(ann_client, firm, headers=HX_DIALOG)
    body = prompt.get_data(as_text=True)
    assert prompt.status_code == 200 and "<html" not in body and "Use a passkey" in body
    assert 'hx-target="#edit-user-body"' in body
    assertion = ann_key.get(step_up_options(ann_client))
    done = answer(ann_client, prompt, headers=HX_DIALOG, passkey_assertion=assertion)
    assert done.status_code == 200 and "closeDialog" in done.headers["HX-Trigger-After-Settle"]
    assert role_of(session, firm["zoe"]) == "admin"


def test_a_passkey_wins_over_a_code_left_in_the_field(ann_client, ann_key, session, firm):
    prompt = role_change(ann_client, firm)
    assertion = ann_key.get(step_up_options(ann_client))
    done = answer(ann_client, prompt, code="12345", passkey_assertion=assertion)
    assert done.status_code == 302 and role_of(session, firm["zoe"]) == "admin"


def test_a_replayed_assertion_is_refused(ann_client, ann_key, session, firm, clock):
    prompt = role_change(ann_client, firm)
    assertion = ann_key.get(step_up_options(ann_client))
    assert answer(ann_client, prompt, passkey_assertion=assertion).status_code == 302
    clock.advance(minutes=10, seconds=1)  # the proof is over: the next change asks again
    zoe = firm["zoe"]
    prompt = ann_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, role="user"), token_from="/admin/security"
    )
    # The same assertion again: its challenge is used up …
    assert refused(answer(ann_client, prompt, passkey_assertion=assertion))
    # … and a new challenge in this session does not make it right.
    step_up_options(ann_client)
    assert refused(answer(ann_client, prompt, passkey_assertion=assertion))
    assert role_of(session, zoe) == "admin"
    # Counted as wrong codes (the step-up's wrong-attempt budget), and named in the log.
    session.expire_all()
    assert session.get(User, firm["ann"].id).mfa_failed_count == 2
    failures = events(session, "signin.mfa_failed")
    assert [event_label(e.action, e.details) for e in failures] == [
        "Passkey refused at Confirm it's you"
    ] * 2


def test_another_users_passkey_is_refused(app, ann_client, session, firm):
    ben_key = passkey_for(app, "ben@harbour.example")
    prompt = role_change(ann_client, firm)
    # Ben's passkey signs Ann's challenge (a browser would not offer it: a crafted request).
    assert refused(
        answer(ann_client, prompt, passkey_assertion=ben_key.get(step_up_options(ann_client)))
    )
    assert role_of(session, firm["zoe"]) == "user"
    assert [e.details["method"] for e in events(session, "auth.step_up")] == ["password"] * 2


def test_a_challenge_from_another_session_is_refused(app, ann_client, ann_key, session, firm):
    other = app.test_client()
    assert sign_in_with_passkey(other, ann_key).status_code == 302  # Ann in another browser
    theirs = step_up_options(other)
    prompt = role_change(ann_client, firm)
    # Signed over the other session's challenge: none in this session …
    assert refused(answer(ann_client, prompt, passkey_assertion=ann_key.get(theirs)))
    # … nor does this session's own challenge stand in for it.
    step_up_options(ann_client)
    assert refused(answer(ann_client, prompt, passkey_assertion=ann_key.get(theirs)))
    assert role_of(session, firm["zoe"]) == "user"


def test_a_challenge_lives_5_minutes(ann_client, ann_key, session, firm, clock):
    prompt = role_change(ann_client, firm)
    found = step_up_options(ann_client)
    clock.advance(minutes=10)
    assert refused(answer(ann_client, prompt, passkey_assertion=ann_key.get(found)))
    found = step_up_options(ann_client)
    clock.advance(minutes=5, seconds=1)
    assert refused(answer(ann_client, prompt, passkey_assertion=ann_key.get(found)))
    assert role_of(session, firm["zoe"]) == "user"


def test_user_verification_is_required(ann_client, ann_key, session, firm):
    ann_key.user_verification = False  # the device touched, the person not checked
    prompt = role_change(ann_client, firm)
    assert refused(
        answer(ann_client, prompt, passkey_assertion=ann_key.get(step_up_options(ann_client)))
    )
    assert role_of(session, firm["zoe"]) == "user"


def test_a_counter_that_went_backwards_is_refused_and_audited(ann_client, ann_key, session, firm):
    prompt = role_change(ann_client, firm)
    copied = ann_key.get(step_up_options(ann_client), sign_count=1)  # 1 was the sign-in's
    assert refused(answer(ann_client, prompt, passkey_assertion=copied))
    assert role_of(session, firm["zoe"]) == "user"
    [regressed] = events(session, "passkey.counter_regressed")
    assert (regressed.details["stored_count"], regressed.details["sign_count"]) == (1, 1)
    passkey = passkey_row(session, firm["ann"])
    assert passkey.sign_count == 1


def test_wrong_passkeys_lock_the_step_like_wrong_codes(ann_client, ann_key, session, firm):
    prompt = role_change(ann_client, firm)
    for _attempt in range(5):
        prompt = answer(ann_client, prompt, passkey_assertion="{}")
    assert prompt.status_code == 429 and "Too many wrong codes" in prompt.get_data(as_text=True)
    # Even a good assertion while locked.
    locked = answer(ann_client, prompt, passkey_assertion=ann_key.get(step_up_options(ann_client)))
    assert locked.status_code == 429 and role_of(session, firm["zoe"]) == "user"
    session.expire_all()
    assert session.get(User, firm["ann"].id).mfa_locked_until is not None


def test_only_users_with_a_passkey_are_offered_one(client, ann_key, session, firm):
    sign_in(client, "ben@harbour.example")  # no MFA, no passkey: the password proves
    prompt = role_change(client, firm)
    body = prompt.get_data(as_text=True)
    assert "Use a passkey" not in body and 'name="current_password"' in body
    token = client.csrf_token("/admin/security")
    response = client.post(OPTIONS, headers={"X-CSRFToken": token})
    assert response.status_code == 404 and "no passkey" in response.get_json()["error"]
    # An assertion is no proof for him: the prompt again, nothing done.
    again = answer(client, prompt, passkey_assertion="{}")
    assert again.status_code == 200 and CONFIRM in again.get_data(as_text=True)
    assert role_of(session, firm["zoe"]) == "user"
