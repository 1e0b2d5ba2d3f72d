"""The per-user wrong-code throttle (README, "Throttle"), kept in the users table.

Every code attempt (sign-in, recovery code, enrolment, deactivate, new
recovery codes) is counted *before* its code is checked, with one atomic
conditional UPDATE that only succeeds while the user is not locked and has
attempts left. When it does not, the code is not even looked at and the
answer is "locked", right code or not; so there is never an attempt to undo,
and parallel requests, several workers or a fresh cookie cannot get more than
`MAX_FAILURES` guesses into a window. A right code then clears the count; a
wrong one keeps it, and after `MAX_FAILURES` wrong codes in a row the code
step locks for 1, 2, 4 … minutes (doubling per lock, capped at `LOCK_CAP`).
Everything is written in the caller's transaction (the request commits it,
a wrong code's 422 included).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from webapp import audit, outbox
from webapp.audit import Action
from webapp.models import User

MAX_FAILURES = 5
LOCK_BASE = timedelta(minutes=1)
LOCK_CAP = timedelta(hours=4)
COUNTS = ("mfa_failed_count", "mfa_lock_count", "mfa_locked_until")


def lock_duration(lock_number: int) -> timedelta:
    """How long the `lock_number`-th lock in a row lasts: 1, 2, 4 … minutes, capped."""
    return min(LOCK_BASE * 2 ** (lock_number - 1), LOCK_CAP)


def take_attempt(session: Session, user: User, now: datetime) -> bool:
    """Count one code attempt of `user`, before its code is checked; False
    (and nothing counted) when the user is locked or has no attempts left.

    On PostgreSQL the UPDATE holds the user's row until the caller commits, so
    attempts of one user are settled one after the other.
    """
    users = User.__table__
    counted = session.execute(
        sa.update(users)
        .where(
            users.c.id == user.id,
            users.c.mfa_failed_count < MAX_FAILURES,
            sa.or_(users.c.mfa_locked_until.is_(None), users.c.mfa_locked_until <= now),
        )
        .values(mfa_failed_count=users.c.mfa_failed_count + 1)
        .returning(*(users.c[name] for name in COUNTS))
    ).first()
    if counted is None:
        # Another request may have locked it meanwhile: read it again when asked.
        session.expire(user, COUNTS)
        return False
    # The row as it is now, without reading it again.
    for name, value in zip(COUNTS, counted, strict=True):
        set_committed_value(user, name, value)
    return True


def clear(user: User) -> None:
    """A right code: the counts start again (written with the caller's other changes)."""
    user.mfa_failed_count = 0
    user.mfa_lock_count = 0
    user.mfa_locked_until = None


def current_lock(user: User, now: datetime) -> datetime | None:
    """When the user's lock ends, or None if they may try now."""
    if user.mfa_locked_until is not None and user.mfa_locked_until > now:
        return user.mfa_locked_until
    if user.mfa_failed_count >= MAX_FAILURES:
        # Attempts used up by requests still in flight; the lock is being set.
        return now + lock_duration(user.mfa_lock_count + 1)
    return None


def record_failure(session: Session, user: User, now: datetime, *, where: str) -> datetime | None:
    """After a wrong code was counted: audit it, and lock the code step when
    the attempts are used up (exactly one request sets each lock, audits it and
    emails the user once). Returns the lock's end if this one locked it.
    """
    audit.record(
        session,
        Action.SIGNIN_MFA_FAILED,
        actor=user,
        subject=user,
        where=where,
        failures_in_a_row=user.mfa_failed_count,
    )
    if user.mfa_failed_count < MAX_FAILURES:
        return None
    # Our counting UPDATE holds the user's row until the caller commits, so no
    # other request can set this lock too.
    lock_number = user.mfa_lock_count + 1
    locked_until = now + lock_duration(lock_number)
    user.mfa_failed_count = 0
    user.mfa_lock_count = lock_number
    user.mfa_locked_until = locked_until
    session.add(user)
    audit.record(
        session,
        Action.SIGNIN_LOCKED,
        actor=user,
        subject=user,
        lock_number=lock_number,
        locked_until=locked_until.isoformat(),
    )
    outbox.queue_user_email(
        session,
        user,
        kind="mfa_locked",
        subject="Your sign-in codes were locked after wrong attempts",
        template="mfa_locked",
        dedupe_key=f"mfa_locked:{user.id}:{lock_number}:{int(locked_until.timestamp())}",
        failures=MAX_FAILURES,
        locked_until=locked_until,
    )
    return locked_until
