"""The per-user wrong-code throttle (DESIGN.md §6), kept in the users table.

Every code attempt (sign-in, recovery code, enrolment, deactivate, new
recovery codes) is counted with one atomic conditional UPDATE that only
succeeds while the user is not locked and has attempts left; when it does not,
the attempt's outcome is thrown away (the transaction is rolled back) and the
answer is "locked", right code or not. So parallel requests, several workers
or a fresh cookie cannot get more than `MAX_FAILURES` guesses into a window.
After `MAX_FAILURES` wrong codes in a row the code step locks for
1, 2, 4 … minutes (doubling per lock, capped at `LOCK_CAP`); a right code
resets both counts.
"""

from __future__ import annotations

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


def _users() -> sa.Table:
    return User.__table__


def count_attempt(session: Session, user: User, now: datetime, *, right: bool) -> bool:
    """Count one attempt of `user` in the caller's transaction: a right code
    resets the counts, a wrong one adds one. False when the user is locked or
    has no attempts left: then nothing was counted and the caller must roll
    back whatever the attempt did and answer "locked".
    """
    users = _users()
    if right:
        values = {"mfa_failed_count": 0, "mfa_lock_count": 0, "mfa_locked_until": None}
    else:
        values = {"mfa_failed_count": users.c.mfa_failed_count + 1}
    counted = session.execute(
        sa.update(users)
        .where(
            users.c.id == user.id,
            users.c.mfa_failed_count < MAX_FAILURES,
            sa.or_(users.c.mfa_locked_until.is_(None), users.c.mfa_locked_until <= now),
        )
        .values(**values)
    ).rowcount
    # The row changed under the ORM's feet: reload these on next access.
    session.expire(user, ["mfa_failed_count", "mfa_lock_count", "mfa_locked_until"])
    return counted == 1


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
    emails the user once). Commits. Returns the lock's end if this one locked it.
    """
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
    # Our counting UPDATE holds the user's row until we commit, so no other
    # request can set this lock too.
    lock_number = user.mfa_lock_count + 1
    locked_until = now + lock_duration(lock_number)
    user.mfa_failed_count = 0
    user.mfa_lock_count = lock_number
    user.mfa_locked_until = locked_until
    session.add(user)
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
    if email_id:
        outbox.request_delivery([email_id])
    return locked_until
