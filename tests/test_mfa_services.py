"""Removing MFA (shared by deactivate and the admin reset)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from tests.conftest import sign_in
from webapp.crypto import encrypt_secret, hash_recovery_code
from webapp.mfa.services import remove_mfa
from webapp.models import PendingSignIn, RecoveryCode, TotpCredential, User, utcnow


def test_remove_mfa_deletes_everything_and_ends_sessions(app, client, factory, session):
    user = factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    now = utcnow()
    with app.app_context():
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=encrypt_secret("A" * 32),
                confirmed_at=now,
                last_used_step=5,
            )
        )
        session.add(RecoveryCode(user_id=user.id, code_hash=hash_recovery_code("abcd-efgh")))
    session.add(
        PendingSignIn(token_hash="x" * 64, user_id=user.id, expires_at=now + timedelta(minutes=5))
    )
    row = session.get(User, user.id)
    row.mfa_enabled, row.mfa_failed_count, row.mfa_locked_until = True, 4, now
    session.commit()

    remove_mfa(session, row)
    session.commit()

    assert session.exec(select(TotpCredential)).all() == []
    assert session.exec(select(RecoveryCode)).all() == []
    assert session.exec(select(PendingSignIn)).all() == []
    session.refresh(row)
    assert (row.mfa_enabled, row.mfa_failed_count, row.mfa_locked_until) == (False, 0, None)
    assert client.get("/profile").status_code == 302
