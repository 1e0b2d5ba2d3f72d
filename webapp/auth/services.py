"""Sign-in logic: who may sign in, and where they go next."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session, select

from webapp import audit
from webapp.audit import Action
from webapp.crypto import verify_password
from webapp.models import User, utcnow


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
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        return None
    if not password_ok or not user.active:
        audit.record(
            session,
            Action.SIGNIN_FAILED,
            subject=user,
            reason="password" if not password_ok else "inactive",
        )
        return None
    return user


def record_sign_in(session: Session, user: User) -> None:
    """Note a completed sign-in: last sign-in and the audit event."""
    user.last_sign_in_at = utcnow()
    session.add(user)
    audit.record(session, Action.SIGNIN_SUCCEEDED, actor=user, subject=user)


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
