"""The per-user wrong-code throttle (DESIGN.md §6), kept in the users table.

Every code attempt (sign-in, recovery code, enrolment, deactivate, new
recovery codes) first *reserves* one of the user's attempts with an atomic
conditional UPDATE and commits it, then checks the code. So parallel requests,
several workers or a fresh cookie cannot get more than `MAX_FAILURES` guesses
into one window: a request that finds no attempt left is refused unchecked.
After `MAX_FAILURES` wrong codes in a row the code step locks for
1, 2, 4 … minutes (doubling per lock, capped at `LOCK_CAP`); a right code
resets both counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from webapp import audit, outbox
from webapp.models import User

MAX_FAILURES = 5
LOCK_BASE = timedelta(minutes=1)
LOCK_CAP = timedelta(hours=4)


def lock_duration(lock_number: int) -> timedelta:
    """How long the `lock_number`-th lock in a row lasts: 1, 2, 4 … minutes, capped."""
    return min(LOCK_BASE * 2 ** (lock_number - 1), LOCK_CAP)


@dataclass(frozen=True)
class Attempt:
    """The outcome of asking for an attempt: allowed, or locked until a time."""

    allowed: bool
    locked_until: datetime | None = None


def _users() -> sa.Table:
    return User.__table__


def reserve_attempt(session: Session, user: User, now: datetime) -> Attempt:
    """Take one attempt for `user` (committed at once), or say until when they are locked."""
    users = _users()
    taken = session.execute(
        sa.update(users)
        .where(
            users.c.id == user.id,
            users.c.mfa_failed_count < MAX_FAILURES,
            sa.or_(users.c.mfa_locked_until.is_(None), users.c.mfa_locked_until <= now),
        )
        .values(mfa_failed_count=users.c.mfa_failed_count + 1)
    ).rowcount
    session.commit()
    session.refresh(user)
    if taken:
        return Attempt(allowed=True)
    return Attempt(allowed=False, locked_until=current_lock(user, now))


def current_lock(user: User, now: datetime) -> datetime | None:
    """When the user's lock ends, or None if they may try now."""
    if user.mfa_locked_until is not None and user.mfa_locked_until > now:
        return user.mfa_locked_until
    if user.mfa_failed_count >= MAX_FAILURES:
        # Attempts used up by requests still in flight; the lock is being set.
        return now + lock_duration(user.mfa_lock_count + 1)
    return None


def record_success(session: Session, user: User) -> None:
    """A right code: the wrong-code and lock counts start again (caller commits)."""
    user.mfa_failed_count = 0
    user.mfa_lock_count = 0
    user.mfa_locked_until = None
    session.add(user)


def record_failure(session: Session, user: User, now: datetime, *, where: str) -> datetime | None:
    """A wrong code (its attempt was already counted). Locks the code step when
    the attempts are used up: exactly one request sets each lock, audits it and
    emails the user once. Returns the lock's end if this failure locked it.
    """
    session.refresh(user)
    audit.record(
        session,
        system_id=user.system_id,
        action=audit.Action.SIGNIN_MFA_FAILED,
        actor_id=user.id,
        subject_id=user.id,
        where=where,
        failures_in_a_row=user.mfa_failed_count,
    )
    if user.mfa_failed_count < MAX_FAILURES:
        session.commit()
        return None
    lock_number = user.mfa_lock_count + 1
    locked_until = now + lock_duration(lock_number)
    users = _users()
    won = session.execute(
        sa.update(users)
        .where(
            users.c.id == user.id,
            users.c.mfa_failed_count >= MAX_FAILURES,
            users.c.mfa_lock_count == user.mfa_lock_count,
        )
        .values(mfa_failed_count=0, mfa_lock_count=lock_number, mfa_locked_until=locked_until)
    ).rowcount
    if not won:
        session.commit()
        return None
    audit.record(
        session,
        system_id=user.system_id,
        action=audit.Action.SIGNIN_LOCKED,
        actor_id=user.id,
        subject_id=user.id,
        lock_number=lock_number,
        locked_until=locked_until.isoformat(),
    )
    email_id = outbox.queue_email(
        session,
        kind="mfa_locked",
        recipient=user.email,
        subject="Your sign-in codes were locked after wrong attempts",
        template="mfa_locked",
        dedupe_key=f"mfa_locked:{user.id}:{lock_number}:{int(locked_until.timestamp())}",
        system_id=user.system_id,
        user=user,
        failures=MAX_FAILURES,
        locked_until=locked_until,
    )
    session.commit()
    session.refresh(user)
    if email_id:
        outbox.request_delivery([email_id])
    return locked_until
