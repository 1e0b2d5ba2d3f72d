"""Enrolling from My Profile: the dialog, the pending secret, two consecutive codes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet, InvalidToken
from flask.sessions import SecureCookieSessionInterface
from sqlmodel import Session, select

from tests import mfa_support
from tests.conftest import sign_in
from tests.mfa_support import (
    Clock,
    password_step,
    signed_in,
    submit_code,
)
from webapp.crypto import decrypt_secret, hash_recovery_code
from webapp.mfa import services, totp
from webapp.models import AuditEvent, RecoveryCode, TotpCredential, User

clock = mfa_support.clock  # the fixture, under its own name

HX = {"HX-Request": "true"}


@pytest.fixture
def zoe(client, factory, clock):
    user = factory.user(email="zoe@example.com", name="Zoë Brown")
    sign_in(client, "zoe@example.com")
    return user


def activate(client, **kw):
    return client.post_form("/profile/mfa/setup", token_from="/profile", headers=HX, **kw)


def stored_secret(app, session, user) -> str:
    session.expire_all()
    credential = session.exec(select(TotpCredential).where(TotpCredential.user_id == user.id)).one()
    with app.app_context():
        return decrypt_secret(credential.secret_encrypted)


# A form inside the open dialog targets its body.
IN_DIALOG = {**HX, "HX-Target": "mfa-dialog-body"}


def save(client, first: str, second: str, headers=IN_DIALOG, **fields):
    return client.post_form(
        "/profile/mfa/setup/confirm",
        {"first_code": first, "second_code": second, **fields},
        token_from="/profile",
        headers=headers,
    )


def enrol(app, client, session, user, clock) -> list[str]:
    activate(client)
    secret = stored_secret(app, session, user)
    response = save(client, clock.code(secret), clock.code(secret, steps=1))
    assert response.status_code == 200
    return secret


def test_profile_row_offers_activate(client, zoe):
    page = client.get("/profile").get_data(as_text=True)
    assert "Multi-factor authentication" in page and "Not configured" in page
    assert ">Activate</button>" in page


def test_activate_opens_the_dialog_inline(client, zoe):
    response = activate(client)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<dialog id="mfa-dialog"')
    assert 'aria-labelledby="mfa-dialog-title" data-modal' in body
    assert (
        '<h2 id="mfa-dialog-title" class="dialog-title" tabindex="-1">'
        "Set up multi-factor authentication (MFA)</h2>"
    ) in body
    assert '<div class="qr" role="img" aria-label="QR code"><svg' in body
    assert ">Show secret key</button>" in body
    for app_name in ("Microsoft Authenticator", "Google Authenticator", "Twilio Authy"):
        assert app_name in body
    assert "top results may be advertising results" in body
    assert '<label for="first_code">First code</label>' in body
    assert '<label for="second_code">Second code</label>' in body
    assert ">Save</button>" in body
    assert response.headers["Cache-Control"] == "no-store"
    assert "style=" not in body and "<script" not in body


def test_without_javascript_activate_leads_to_the_same_dialog_as_a_page(client, zoe):
    response = client.post_form("/profile/mfa/setup", token_from="/profile")
    assert response.headers["Location"] == "/profile/mfa/setup"
    page = client.get("/profile/mfa/setup").get_data(as_text=True)
    assert "<html" in page and 'aria-label="QR code"' in page


def test_looking_at_the_setup_page_creates_nothing(client, zoe, session):
    assert client.get("/profile/mfa/setup").status_code == 200
    assert session.exec(select(TotpCredential)).all() == []


def test_show_secret_key_reveals_the_key_in_groups_of_four(app, client, zoe, session):
    activate(client)
    secret = stored_secret(app, session, zoe)
    response = client.get("/profile/mfa/setup?show=secret", headers=HX)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="secret-key">')
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in body
    assert len(secret) == 32  # 160 bits


def test_reopening_shows_the_same_secret_until_it_expires(app, client, zoe, session, clock):
    activate(client)
    first = stored_secret(app, session, zoe)
    clock.advance(minutes=9)
    activate(client)
    assert stored_secret(app, session, zoe) == first
    clock.advance(minutes=1, seconds=1)
    activate(client)
    assert stored_secret(app, session, zoe) != first


def test_secret_is_never_in_the_cookie_session_or_a_url(app, client, zoe, session):
    body = activate(client).get_data(as_text=True)
    body += client.get("/profile/mfa/setup?show=secret").get_data(as_text=True)
    secret = stored_secret(app, session, zoe)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert secret not in str(serializer.loads(cookie)) and secret not in cookie
    for attribute in ('href="', 'action="', 'hx-get="', 'hx-post="'):
        for chunk in body.split(attribute)[1:]:
            assert secret not in chunk.split('"')[0]


def test_secret_is_unreadable_in_the_database_without_the_key(app, client, zoe, session):
    activate(client)
    secret = stored_secret(app, session, zoe)
    stored = session.exec(select(TotpCredential)).one().secret_encrypted
    assert secret not in stored and secret.lower() not in stored.lower()
    with pytest.raises(InvalidToken):
        Fernet(Fernet.generate_key()).decrypt(stored.encode())


def test_rfc_6238_vector():
    secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.code_at_step(secret, 59 // 30) == "287082"
    assert totp.code_at_step(secret, 1111111109 // 30) == "081804"


def test_save_with_two_consecutive_codes_turns_mfa_on(app, client, zoe, session, clock, mailbox):
    activate(client)
    secret = stored_secret(app, session, zoe)
    # From My Profile, whose row then shows the new state.
    from_profile = {**IN_DIALOG, "HX-Current-URL": "http://localhost/profile"}
    response = save(client, clock.code(secret), clock.code(secret, steps=1), headers=from_profile)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Multi-factor authentication is now enabled" in body
    assert 'id="mfa-row" hx-swap-oob="true"' in body and "Enabled" in body
    session.expire_all()
    user = session.get(User, zoe.id)
    assert user.mfa_enabled and user.mfa_enabled_at is not None
    credential = session.exec(select(TotpCredential)).one()
    assert credential.confirmed and credential.pending_expires_at is None
    assert credential.last_used_step == totp.step_at(clock.now) + 1

    codes = [line.split("</code>")[0] for line in body.split("<li><code>")[1:]]
    assert len(codes) == 10 == len(set(codes))
    hashes = [row.code_hash for row in session.exec(select(RecoveryCode)).all()]
    assert len(hashes) == 10 and not set(codes) & set(hashes)
    assert "Download" in body and 'data-copy="#recovery-codes"' in body

    events = session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.enabled")).all()
    assert len(events) == 1
    [mail] = mailbox()
    assert mail["To"] == "zoe@example.com"
    assert "turned on" in mail.get_body(("plain",)).get_content()
    raw = mail.as_string()
    assert secret not in raw and clock.code(secret) not in raw and "otpauth" not in raw


def test_enrolment_codes_cannot_sign_in(app, client, zoe, session, clock):
    secret = enrol(app, client, session, zoe, clock)
    client.post_form("/sign-out", token_from="/profile")
    password_step(client, "zoe@example.com")
    for steps in (0, 1):
        assert submit_code(client, clock.code(secret, steps=steps)).status_code == 422
    assert not signed_in(client)
    clock.advance(seconds=30)
    assert submit_code(client, clock.code(secret, steps=1)).status_code == 302


ERRORS = [
    ("empty", lambda s, c: ("", ""), "Enter the 6-digit code"),
    ("non-digits", lambda s, c: ("abc123", c.code(s, 1)), "digits only"),
    ("wrong length", lambda s, c: ("12345", c.code(s, 1)), "The code has 6 digits."),
    ("wrong code", lambda s, c: (wrong(c.code(s)), wrong(c.code(s, 1))), "do not match this key"),
    ("same code twice", lambda s, c: (c.code(s), c.code(s)), "The two codes are the same"),
    ("not consecutive", lambda s, c: (c.code(s), c.code(s, 2)), "the second is not the code"),
    ("reversed", lambda s, c: (c.code(s, 1), c.code(s)), "the second is not the code"),
    ("first too old", lambda s, c: (c.code(s, -2), c.code(s, -1)), "do not match this key"),
]


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.mark.parametrize("case, codes, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_every_error_rerenders_the_dialog_and_changes_nothing(
    app, client, zoe, session, clock, case, codes, message
):
    activate(client)
    secret = stored_secret(app, session, zoe)
    response = save(client, *codes(secret, clock))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    # Only the open dialog's body comes back, to be swapped in place.
    assert body.lstrip().startswith("<ol") or body.lstrip().startswith('<div class="notice"')
    assert "<dialog" not in body
    assert 'aria-label="QR code"' in body  # still the same dialog, ready for another try
    session.expire_all()
    assert not session.get(User, zoe.id).mfa_enabled
    assert not session.exec(select(TotpCredential)).one().confirmed
    assert session.exec(select(RecoveryCode)).all() == []
    assert stored_secret(app, session, zoe) == secret


def test_expired_pending_secret_offers_a_new_one(app, client, zoe, session, clock):
    activate(client)
    secret = stored_secret(app, session, zoe)
    clock.advance(minutes=10, seconds=1)
    response = save(client, clock.code(secret), clock.code(secret, steps=1))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This setup expired" in body and ">Get a new key</button>" in body
    assert not session.get(User, zoe.id).mfa_enabled


def test_save_without_csrf_token_is_refused(app, client, zoe, session, clock):
    activate(client)
    secret = stored_secret(app, session, zoe)
    response = client.post(
        "/profile/mfa/setup/confirm",
        data={"first_code": clock.code(secret), "second_code": clock.code(secret, steps=1)},
        headers=HX,
    )
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    # The dialog comes back in place, with the message and the same key.
    assert "HX-Retarget" not in response.headers
    assert 'id="mfa-dialog"' in body and "Your form expired" in body
    assert "First code" in body and "<html" not in body
    assert stored_secret(app, session, zoe) == secret
    session.expire_all()
    assert not session.get(User, zoe.id).mfa_enabled


def test_wrong_enrolment_codes_count_toward_the_lock(app, client, zoe, session, clock):
    activate(client)
    secret = stored_secret(app, session, zoe)
    for _ in range(5):
        response = save(client, wrong(clock.code(secret)), wrong(clock.code(secret, steps=1)))
    assert response.status_code == 429
    assert "Too many wrong codes" in response.get_data(as_text=True)
    refused = save(client, clock.code(secret), clock.code(secret, steps=1))
    assert refused.status_code == 429
    assert not session.get(User, zoe.id).mfa_enabled


def test_two_tabs_share_one_secret_and_the_second_save_is_told(app, client, zoe, session, clock):
    activate(client)
    activate(client)
    secret = stored_secret(app, session, zoe)
    assert save(client, clock.code(secret), clock.code(secret, steps=1)).status_code == 200
    later = save(client, clock.code(secret, 1), clock.code(secret, steps=2))
    assert later.status_code == 302  # already on: back to My Profile
    assert len(session.exec(select(TotpCredential)).all()) == 1


def test_clock_helper_starts_inside_a_step():
    assert Clock().now.second % 30 == 5
    assert timedelta(0) < timedelta(seconds=5)


def test_two_simultaneous_saves_enable_once_and_keep_the_winners_codes(app, zoe, session):
    now = Clock().now
    with app.app_context():
        credential = services.start_enrolment(session, session.get(User, zoe.id), now)
        secret = services.enrolment_secret(credential)
    session.commit()
    first, second = (pyotp.TOTP(secret).at(now + timedelta(seconds=30 * i)) for i in (0, 1))
    barrier = threading.Barrier(2)
    outcomes = []

    def save_in_own_connection() -> None:
        with app.app_context(), Session(app.extensions["firmguard_db"]) as own:
            user = own.get(User, zoe.id)
            barrier.wait()
            try:
                outcomes.append(services.confirm_enrolment(own, user, first, second, now))
            except services.EnrolmentError as error:
                outcomes.append(error.message)
            own.commit()  # as the request does, either way

    threads = [threading.Thread(target=save_in_own_connection) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [codes] = [outcome for outcome in outcomes if isinstance(outcome, list)]
    assert "Multi-factor authentication is already enabled." in outcomes
    with app.app_context():
        stored = {row.code_hash for row in session.exec(select(RecoveryCode)).all()}
        assert stored == {hash_recovery_code(code) for code in codes}
