"""Ceremony challenges: made on the server, kept there (a PasskeyChallenge
row), single use, 5 minutes, and bound to this browser's session: the
session holds a random token and the row its hash, so a challenge captured
from a page is refused when it comes back from any other session.

A row, used or not, is deleted once expired by the hourly retention run
(`PasskeyChallenge`'s expiry).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import session as browser_session
from sqlmodel import Session, select

from webapp.crypto import new_token, token_hash
from webapp.models import Ceremony, PasskeyChallenge, User
from webapp.single_use import claim_once

TTL = timedelta(minutes=5)
TOKEN_KEY = "passkey_challenge"  # noqa: S105 (a session key name)


def issue(
    session: Session,
    ceremony: Ceremony,
    user: User | None,
    now: datetime,
    user_handle: bytes | None = None,
) -> bytes:
    """A new challenge for `ceremony` in this browser (earlier ones here lapse)."""
    token = new_token()
    challenge = secrets.token_bytes(32)
    session.add(
        PasskeyChallenge(
            browser_hash=token_hash(token),
            ceremony=ceremony.value,
            user_id=user.id if user is not None else None,
            challenge=challenge,
            user_handle=user_handle,
            expires_at=now + TTL,
            created_at=now,
        )
    )
    browser_session[TOKEN_KEY] = token
    return challenge


def claim(session: Session, ceremony: Ceremony, now: datetime) -> PasskeyChallenge | None:
    """This browser's live challenge for `ceremony`, used up now; None if there
    is none (expired, used, another session's, another ceremony's)."""
    token = browser_session.pop(TOKEN_KEY, None)
    if not isinstance(token, str) or not token:
        return None
    row = session.exec(
        select(PasskeyChallenge).where(
            PasskeyChallenge.browser_hash == token_hash(token),
            PasskeyChallenge.ceremony == ceremony.value,
        )
    ).first()
    table = PasskeyChallenge.__table__
    if row is None or not claim_once(session, table, table.c.id == row.id, now=now):
        return None
    return row
