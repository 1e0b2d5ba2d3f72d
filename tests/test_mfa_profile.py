"""Deactivating MFA, new recovery codes, and `keys rotate`."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from tests.mfa_support import (
    SECRET,
    enable_mfa,
    password_step,
    signed_in,
    submit_code,
)
from webapp import create_app
from webapp.crypto import decrypt_secret, encrypt_secret
from webapp.mfa import services
from webapp.models import AuditEvent, RecoveryCode, TotpCredential, User

clock = mfa_support.clock  # the fixture, under its own name

HX = {"HX-Request": "true"}


@pytest.fixture
def ann(app, client, factory, session, clock):
    """Ann has MFA and is signed in."""
    user = factory.user(email="ann@example.com", name="Ann Lee")
    enable_mfa(app, session, user)
    password_step(client, "ann@example.com")
    assert submit_code(client, clock.code()).status_code == 302
    clock.advance(seconds=30)
    return user


def deactivate(client, code: str, headers=HX):
    return client.post_form(
        "/profile/mfa/deactivate", {"code": code}, token_from="/profile", headers=headers
    )


def test_enabled_row_offers_deactivate_which_asks_for_a_code(client, ann):
    page = client.get("/profile").get_data(as_text=True)
    assert "Enabled" in page and ">Deactivate</button>" in page
    dialog = client.get("/profile/mfa/deactivate", headers=HX).get_data(as_text=True)
    assert '<label for="code">Authentication code</label>' in dialog
    # The removal is confirmed by a button that says what it does, styled as dangerous.
    assert '<button type="submit" class="danger">Turn off multi-factor authentication</button>' in dialog
    assert "<html" not in dialog and "data-modal" in dialog


def test_deactivate_with_a_right_code(app, client, ann, clock, session, mailbox):
    other = app.test_client()
    password_step(other, "ann@example.com")
    assert submit_code(other, clock.code()).status_code == 302
    clock.advance(seconds=30)

    response = deactivate(client, clock.code())
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    # The dialog closes; the row and the page's message change in place.
    assert response.headers["HX-Reswap"] == "none"
    assert "closeDialog" in response.headers["HX-Trigger-After-Settle"]
    assert 'id="mfa-row" hx-swap-oob="true"' in body and "Not configured" in body
    assert "Multi-factor authentication is now off." in body
    session.expire_all()
    assert not session.get(User, ann.id).mfa_enabled
    assert session.exec(select(TotpCredential)).all() == []
    assert session.exec(select(RecoveryCode)).all() == []
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.disabled")).one()
    assert [m["Subject"] for m in mailbox()] == ["Multi-factor authentication is off"]
    assert signed_in(client)  # this session carries on
    assert not signed_in(other)  # every other one ended
    client.post_form("/sign-out", token_from="/profile")
    assert sign_in(client, "ann@example.com").headers["Location"] == "/profile"


def test_deactivate_with_a_recovery_code_without_javascript(app, client, ann, clock, session):
    with app.app_context():
        codes = services.replace_recovery_codes(session, session.get(User, ann.id), clock.now)
    session.commit()
    response = deactivate(client, codes[0], headers={})
    assert response.headers["Location"] == "/profile"
    assert "Multi-factor authentication is now off." in client.get("/profile").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "code, message",
    [
        ("", "Enter the 6-digit code"),
        ("12ab56", "digits only"),
        ("wrong", None),
        ("used", "That code was already used"),
    ],
)
def test_deactivate_refuses_a_wrong_code_and_changes_nothing(
    client, ann, clock, session, code, message
):
    if code == "wrong":
        code, message = f"{(int(clock.code()) + 1) % 10**6:06d}", "That code is not right"
    if code == "used":
        code = clock.code(steps=-1)  # the one that signed in
    response = deactivate(client, code)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, ann.id).mfa_enabled
    assert session.exec(select(TotpCredential)).one()


def test_a_system_that_requires_mfa_does_not_let_a_user_deactivate(client, ann, clock, session):
    from webapp.models import System

    system = session.get(System, ann.system_id)
    system.mfa_required = True
    session.add(system)
    session.commit()
    dialog = client.get("/profile/mfa/deactivate", headers=HX).get_data(as_text=True)
    assert "requires multi-factor authentication for every user" in dialog
    assert "Authentication code" not in dialog
    assert deactivate(client, clock.code()).status_code == 403
    session.expire_all()
    assert session.get(User, ann.id).mfa_enabled


def test_new_recovery_codes_need_a_current_code_and_replace_the_old(
    app, client, ann, clock, session
):
    with app.app_context():
        old = services.replace_recovery_codes(session, session.get(User, ann.id), clock.now)
    session.commit()
    page = client.get("/profile/mfa/recovery-codes", headers=HX).get_data(as_text=True)
    assert "You have 10 of 10 recovery codes left." in page
    refused = client.post_form(
        "/profile/mfa/recovery-codes", {"code": old[0]}, token_from="/profile", headers=HX
    )
    assert refused.status_code == 422
    response = client.post_form(
        "/profile/mfa/recovery-codes", {"code": clock.code()}, token_from="/profile", headers=HX
    )
    body = response.get_data(as_text=True)
    new = [line.split("</code>")[0] for line in body.split("<li><code>")[1:]]
    assert len(new) == 10 and not set(new) & set(old)
    assert session.exec(
        select(AuditEvent).where(AuditEvent.action == "mfa.recovery_codes_regenerated")
    ).one()
    client.post_form("/sign-out", token_from="/profile")
    password_step(client, "ann@example.com")
    assert submit_code(client, old[1], path="/sign-in/recovery").status_code == 422
    assert submit_code(client, new[1], path="/sign-in/recovery").status_code == 302


def test_keys_rotate_reencrypts_every_secret_and_can_run_again(app, factory, session, database_url):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    users = [factory.user() for _ in range(3)]
    old_app = create_app(
        "testing", {"DATABASE_URL": database_url, "MFA_ENCRYPTION_KEYS": [old_key]}
    )
    with old_app.app_context():
        for user in users:
            session.add(TotpCredential(user_id=user.id, secret_encrypted=encrypt_secret(SECRET)))
    session.commit()

    both = create_app(
        "testing", {"DATABASE_URL": database_url, "MFA_ENCRYPTION_KEYS": [new_key, old_key]}
    )
    runner = both.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "Re-encrypted 3 secret(s)" in result.output

    new_only = create_app(
        "testing", {"DATABASE_URL": database_url, "MFA_ENCRYPTION_KEYS": [new_key]}
    )
    session.expire_all()
    with new_only.app_context():
        for row in session.exec(select(TotpCredential)).all():
            assert decrypt_secret(row.secret_encrypted) == SECRET
    for application in (old_app, both, new_only):
        application.extensions["firmguard_db"].dispose()
