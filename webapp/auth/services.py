"""Sign-in logic: who may sign in, and where they go next."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session, select

from webapp import audit
from webapp.audit import Action
from webapp.crypto import rehash_if_outdated, verify_password
from webapp.models import SignInMethod, User, utcnow


def normalize_email(email: str) -> str:
    """Emails are stored and compared lower-cased and trimmed."""
    return email.strip().lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalize_email(email))).first()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user whose email and password match and who is active, else None.

    Unknown email, wrong password and inactive user all cost one argon2 check
    and answer the same, so the response tells an attacker nothing.
    """
    user = find_user_by_email(session, email)
    password_ok = password_is_right(user, password)
    if user is None:
        return None
    if not password_ok or not user.active:
        record_refusal(session, user, reason="password" if not password_ok else "inactive")
        return None
    return user


def password_is_right(user: User | None, password: str) -> bool:
    """The one place a password is checked (sign-in, step-up). A right password
    whose stored hash was made with older argon2 parameters is re-hashed under
    the configured ones; the caller's unit of work saves it."""
    if not verify_password(user.password_hash if user else None, password):
        return False
    new_hash = rehash_if_outdated(user.password_hash, password)
    if new_hash is not None:
        user.password_hash = new_hash
    return True


def record_refusal(session: Session, user: User, *, reason: str) -> None:
    """Audit a refused password sign-in of `user`."""
    audit.record(session, Action.SIGNIN_FAILED, subject=user, reason=reason)


def record_sign_in(
    session: Session, user: User, method: SignInMethod = SignInMethod.PASSWORD
) -> None:
    """Note a completed sign-in: last sign-in, how it was made, the audit event."""
    user.last_sign_in_at = utcnow()
    user.last_sign_in_method = method.value
    session.add(user)
    if method is SignInMethod.PASSWORD:
        audit.record(session, Action.SIGNIN_SUCCEEDED, actor=user, subject=user)
    elif method is SignInMethod.PASSKEY:
        audit.record(session, Action.PASSKEY_SIGN_IN, actor=user, subject=user)
    else:
        provider_mfa = method is SignInMethod.SSO_MFA
        audit.record(
            session, Action.SSO_SIGN_IN, actor=user, subject=user, provider_mfa=provider_mfa
        )


def record_sign_out(session: Session, user: User) -> None:
    """Note a sign-out, which ends every session of the user (the version moves on)."""
    user.session_version += 1
    session.add(user)
    audit.record(session, Action.SIGNOUT, actor=user, subject=user)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t\\"):
        return None
    return target
