"""Emailed links that set a password once: one service for every purpose
("Set a new password" after "Forgot your password?", an invitation's "Set your
password"). The email holds a random token, the row only its hash."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, select

from webapp.crypto import new_token, token_hash
from webapp.models import User
from webapp.passwords.models import PasswordToken
from webapp.single_use import claim_once


class Purpose(StrEnum):
    RESET = "reset"
    INVITATION = "invitation"


RESET_LINK_TTL = timedelta(minutes=30)
MAX_TOKEN_LENGTH = 100  # tokens are 43 characters; longer input is not looked up


def invited(user: User) -> bool:
    """Waiting for their invitation ("Invited" in the users list): `invited_at`
    set and not active, so every "active" rule leaves them out (README,
    "Adding users"); Set password, a revoke, or Edit user's Active clear it."""
    return user.invited_at is not None and not user.active


def issue(session: Session, user: User, purpose: Purpose, ttl: timedelta, now: datetime) -> str:
    """A new link for `user`; every older live one of the same purpose is used up."""
    use_up(session, user, now, purpose)
    row, token = new_link(user, purpose, ttl, now)
    session.add(row)
    return token


def new_link(
    user: User, purpose: Purpose, ttl: timedelta, now: datetime
) -> tuple[PasswordToken, str]:
    """A link's row (to add) and its token (to email), for a user with no live
    link of that purpose yet (one just created: nothing to use up)."""
    token = new_token()
    row = PasswordToken(
        token_hash=token_hash(token),
        user_id=user.id,
        purpose=purpose.value,
        expires_at=now + ttl,
        created_at=now,
    )
    return row, token


def use_up(session: Session, user: User, now: datetime, purpose: Purpose | None = None) -> None:
    """End the user's live links (of one purpose; of all, for a password change)."""
    table = PasswordToken.__table__
    conditions = [table.c.user_id == user.id, table.c.consumed_at.is_(None)]
    if purpose is not None:
        conditions.append(table.c.purpose == purpose.value)
    session.execute(sa.update(table).where(*conditions).values(consumed_at=now))


def _live(token: str, purpose: Purpose, now: datetime):
    return (
        PasswordToken.token_hash == token_hash(token),
        PasswordToken.purpose == purpose.value,
        PasswordToken.consumed_at.is_(None),
        PasswordToken.expires_at > now,
    )


def holder(session: Session, token: object, purpose: Purpose, now: datetime) -> User | None:
    """The user whose live link this is, else None (nothing is used up): an
    active user for a reset, a user still invited for an invitation."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    user = session.exec(
        select(User)
        .join(PasswordToken, PasswordToken.user_id == User.id)
        .where(*_live(token, purpose, now))
    ).first()
    if user is None:
        return None
    return user if (invited(user) if purpose is Purpose.INVITATION else user.active) else None


def claim_live_invitation(session: Session, user: User, now: datetime) -> bool:
    """Use up `user`'s live invitation link without its token (their firm's
    provider vouched for them instead, `webapp.sso.flow`); True for the one
    request that did (a conditional UPDATE: of two at once, one wins)."""
    table = PasswordToken.__table__
    return (
        session.execute(
            sa.update(table)
            .where(
                table.c.user_id == user.id,
                table.c.purpose == Purpose.INVITATION.value,
                table.c.consumed_at.is_(None),
                table.c.expires_at > now,
            )
            .values(consumed_at=now)
        ).rowcount
        > 0
    )


def claim(session: Session, token: str, purpose: Purpose, now: datetime) -> bool:
    """Use the link up; True for the one request that did (a conditional UPDATE)."""
    table = PasswordToken.__table__
    return claim_once(
        session,
        table,
        table.c.token_hash == token_hash(token),
        table.c.purpose == purpose.value,
        now=now,
    )
