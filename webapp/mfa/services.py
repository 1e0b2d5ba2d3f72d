"""MFA state changes shared by My Profile (deactivate) and Admin (reset)."""

from __future__ import annotations

from sqlmodel import Session, delete

from webapp.models import PendingSignIn, RecoveryCode, TotpCredential, User


def remove_mfa(session: Session, user: User) -> None:
    """Turn MFA off for `user`: delete the TOTP credential and recovery codes,
    drop pending code steps, clear the wrong-code throttle, and end every
    session of theirs. The caller audits, emails and commits.
    """
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.exec(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    session.exec(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    user.mfa_enabled = False
    user.mfa_enabled_at = None
    user.mfa_failed_count = 0
    user.mfa_lock_count = 0
    user.mfa_locked_until = None
    user.session_version += 1
    session.add(user)
