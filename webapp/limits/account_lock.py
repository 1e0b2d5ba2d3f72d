"""The per-account lock of the password step (README, "Sign-in limits").

After `ACCOUNT.limit` wrong passwords in a row for one email, from any
addresses, its password attempts are refused for a growing wait without
the password being looked at: right or wrong, the answer is the same. The
request whose failure sets a lock (exactly one per lock) audits it and emails
the owner a link that lets them, with their right password, through the lock
once. The lock ends by itself; an admin can clear it on Edit user. A right
password outside a lock starts the count again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import session as browser_session
from flask import url_for
from sqlmodel import Session, select

from webapp import audit, outbox
from webapp.audit import Action
from webapp.auth.services import authenticate, normalize_email
from webapp.auth.services import find_user_by_email as user_by_email
from webapp.crypto import new_token, token_hash
from webapp.limits import policy
from webapp.limits.models import SignInUnlock
from webapp.models import User
from webapp.single_use import claim_once

UNLOCK_KEY = "sign_in_unlock"
UNLOCK_LINK_TTL = timedelta(hours=24)


def refusal_message(locked_until: datetime, now: datetime) -> str:
    """What a locked account's password step says, whoever asks and whatever
    the password (nothing in it depends on the account)."""
    minutes = max(1, math.ceil((locked_until - now) / timedelta(minutes=1)))
    return (
        "Too many wrong passwords for this account. Try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''}, or use the link in the "
        "email sent to the account's owner."
    )


def check_password(
    session: Session, email: str, password: str, now: datetime
) -> tuple[User | None, str | None]:
    """The password step under the account's lock: (the user, None) for a
    right password; (None, None) for a wrong one (or an unknown email or an
    inactive user); (None, what to say) while the account is locked, right
    password or wrong, unless this browser holds the owner's link."""
    gate = gate_of(session, email, now)
    if gate.locked_until is not None and gate.unlock is None:
        return None, refusal_message(gate.locked_until, now)
    user = authenticate(session, email, password)
    if user is None:
        wrong_password(session, gate, email, now)
        return None, None
    if not right_password(session, gate, user, now):
        return None, refusal_message(gate.locked_until, now)
    return user, None


@dataclass(frozen=True)
class Gate:
    """The account's state at a password attempt."""

    key: str
    locked_until: datetime | None  # None: not locked (or limits are off)
    had_failures: bool
    unlock: SignInUnlock | None  # this browser's live link for this account, if any


def gate_of(session: Session, email: str, now: datetime) -> Gate:
    key = policy.account_key(email)
    if not policy.enabled():
        return Gate(key, None, False, None)
    count = policy.read(key, now)
    locked_until = count.lock(now) if count else None
    unlock = None
    if locked_until is not None:
        unlock = live_unlock(session, browser_session.get(UNLOCK_KEY), now)
        owner = session.get(User, unlock.user_id) if unlock else None
        if owner is None or owner.email != normalize_email(email):
            unlock = None
    return Gate(key, locked_until, count is not None, unlock)


def live_unlock(session: Session, token, now: datetime) -> SignInUnlock | None:
    if not isinstance(token, str) or not token:
        return None
    return session.exec(
        select(SignInUnlock).where(
            SignInUnlock.token_hash == token_hash(token),
            SignInUnlock.consumed_at.is_(None),
            SignInUnlock.tries_left > 0,
            SignInUnlock.expires_at > now,
        )
    ).first()


def wrong_password(session: Session, gate: Gate, email: str, now: datetime) -> None:
    """A wrong password (or unknown email, or inactive user): counted on the
    account; through the owner's link, one of the link's tries used instead."""
    if not policy.enabled():
        return
    if gate.locked_until is not None:
        if gate.unlock is not None:
            table = SignInUnlock.__table__
            session.execute(
                table.update()
                .where(table.c.id == gate.unlock.id, table.c.tries_left > 0)
                .values(tries_left=table.c.tries_left - 1)
            )
        return
    failure = policy.count_failure(gate.key, policy.ACCOUNT, now)
    user = user_by_email(session, email) if failure.locked_now else None
    if user is not None:
        locked(session, user, failure.count.lock_number, failure.count.locked_until, now)


def right_password(session: Session, gate: Gate, user: User, now: datetime) -> bool:
    """The right password: through the lock with the owner's link (used up
    here, once), else the count starts again. False if the link was used up
    meanwhile by another request (refuse as locked)."""
    if gate.locked_until is None:
        if gate.had_failures:
            policy.storage().forget(gate.key)
        return True
    table = SignInUnlock.__table__
    if not claim_once(
        session, table, table.c.id == gate.unlock.id, table.c.tries_left > 0, now=now
    ):
        return False
    browser_session.pop(UNLOCK_KEY, None)
    audit.record(session, Action.SIGNIN_UNLOCK_LINK_USED, actor=user, subject=user)
    return True


def locked(
    session: Session, user: User, lock_number: int, locked_until: datetime, now: datetime
) -> None:
    """This failure set the account's lock: audit it, email the owner a link."""
    audit.record(
        session,
        Action.SIGNIN_PASSWORD_LOCKED,
        subject=user,
        failures=policy.ACCOUNT.limit if lock_number == 1 else policy.ACCOUNT.between_locks,
        lock_number=lock_number,
        locked_until=locked_until.isoformat(),
        address=policy.client_address(),
    )
    token = new_token()
    session.add(
        SignInUnlock(
            token_hash=token_hash(token),
            user_id=user.id,
            expires_at=now + UNLOCK_LINK_TTL,
            created_at=now,
        )
    )
    outbox.queue_user_email(
        session,
        user,
        kind="password_locked",
        subject="Someone tried to sign in to your account",
        template="password_locked",
        dedupe_key=f"password_locked:{user.id}:{lock_number}:{int(locked_until.timestamp())}",
        failures=policy.ACCOUNT.limit,
        locked_until=locked_until,
        unlock_path=url_for("limits.unlock", token=token),
    )


def lock_of(user: User, now: datetime) -> datetime | None:
    """When `user`'s password lock ends, or None (Edit user shows it)."""
    count = policy.read(policy.account_key(user.email), now)
    return count.lock(now) if count else None


def clear(session: Session, admin: User, user: User, locked_until: datetime) -> None:
    """An admin's "Clear sign-in lock": the account's count and lock are gone."""
    policy.storage().forget(policy.account_key(user.email))
    audit.record(
        session,
        Action.SIGNIN_LOCK_CLEARED,
        actor=admin,
        subject=user,
        locked_until=locked_until.isoformat(),
    )
