"""The pending code step: the password was right, the code is still due.

The server holds it (a PendingSignIn row: user, 5-minute expiry, single use);
the browser's session holds only a random token whose hash names the row. So
the step is bound to this browser, and a cookie copied from an earlier
sign-in cannot reach a later one (its token is consumed or expired).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask import session as browser_session
from sqlmodel import Session, select

from webapp.crypto import new_token, token_hash
from webapp.models import PendingSignIn, SignInMethod, TotpCredential, User
from webapp.single_use import claim_once

TOKEN_KEY = "pending_sign_in"  # noqa: S105 (a session key name)
NEXT_KEY = "pending_next"
METHOD_KEY = "pending_method"


def begin(
    session: Session,
    user: User,
    now: datetime,
    next_target: str | None,
    method: SignInMethod = SignInMethod.PASSWORD,
) -> None:
    """Start the code step for `user` on a fresh browser session.

    A step's row, used or not, is deleted once it has expired, by the hourly
    retention run like every other expired row (`PendingSignIn`'s expiry).
    """
    token = new_token()
    session.add(
        PendingSignIn(
            token_hash=token_hash(token),
            user_id=user.id,
            expires_at=now + current_app.config["MFA_PENDING_SIGN_IN_TTL"],
            created_at=now,
        )
    )
    browser_session.clear()
    browser_session.permanent = True
    browser_session[TOKEN_KEY] = token
    browser_session[METHOD_KEY] = method.value
    if next_target:
        browser_session[NEXT_KEY] = next_target


def _live(token: str, now: datetime):
    return (
        PendingSignIn.token_hash == token_hash(token),
        PendingSignIn.consumed_at.is_(None),
        PendingSignIn.expires_at > now,
    )


@dataclass(frozen=True)
class PendingStep:
    """Whose code step this browser is at, and their TOTP credential (if any)."""

    user: User
    credential: TotpCredential | None


def pending_step(session: Session, now: datetime) -> PendingStep | None:
    """The code step this browser is at, if it is live: one query for the
    pending sign-in, its user and their credential (the code check needs it).
    """
    token = browser_session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return None
    row = session.exec(
        select(User, TotpCredential)
        .join(PendingSignIn, PendingSignIn.user_id == User.id)
        .outerjoin(TotpCredential, TotpCredential.user_id == User.id)
        .where(*_live(token, now))
    ).first()
    if row is None or not row[0].active:
        return None
    return PendingStep(*row)


def consume(session: Session, now: datetime) -> bool:
    """Use the pending step up (once: a conditional UPDATE)."""
    token = browser_session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return False
    table = PendingSignIn.__table__
    # No autoflush: the sign-in's changes to the user (its cleared count) wait
    # for its last-sign-in stamp, so the user's row is updated once, not twice.
    with session.no_autoflush:
        return claim_once(session, table, table.c.token_hash == token_hash(token), now=now)


def next_target() -> str | None:
    return browser_session.get(NEXT_KEY)


def sign_in_method() -> SignInMethod:
    """How the first step was passed: the password, or the firm's provider."""
    return SignInMethod(browser_session.get(METHOD_KEY, SignInMethod.PASSWORD.value))
