"""A user's passkeys: adding one (the first turns MFA on), renaming and
removing (signing in with one: `webapp.passkeys.sign_in`). Services never
commit: the request does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from webapp import audit
from webapp.audit import Action
from webapp.mfa.services import credential_of, record_own_change, turn_on
from webapp.models import Ceremony, Passkey, System, User
from webapp.passkeys import ceremony, challenges, names

EXPIRED = "This passkey request expired or was already used. Try again."
NOT_ADDED = "The passkey could not be added. Try again."
ALREADY_ADDED = "That passkey is already added to an account."


class PasskeyError(Exception):
    """Adding a passkey failed; `message` is fit to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def passkeys_of(session: Session, user: User) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    return list(
        session.exec(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)).all()
    )


def passkey_of(session: Session, user: User, passkey_id: int) -> Passkey | None:
    """One of the user's own passkeys (never another user's)."""
    return session.exec(
        select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id)
    ).first()


def count_of(session: Session, user: User) -> int:
    return session.exec(
        select(func.count()).select_from(Passkey).where(Passkey.user_id == user.id)
    ).one()


# --- adding -------------------------------------------------------------------


def registration_options(session: Session, user: User, now: datetime) -> dict:
    """Options for the browser's "create a passkey" (a fresh challenge for this browser).

    Every passkey of a user carries the same WebAuthn user.id, a random one:
    an authenticator then keeps one passkey per account, and the id says
    nothing about the user.
    """
    existing = passkeys_of(session, user)
    handle = existing[0].user_handle if existing else secrets.token_bytes(32)
    challenge = challenges.issue(session, Ceremony.REGISTER, user, now, user_handle=handle)
    system = session.get(System, user.system_id)
    return ceremony.registration_options(
        challenge=challenge,
        user_handle=handle,
        email=user.email,
        name=user.display_name,
        rp_name=system.name,
        exclude=[passkey.credential_id for passkey in existing],
    )


@dataclass(frozen=True)
class Added:
    passkey: Passkey
    # New recovery codes (to show once) when this passkey turned MFA on.
    recovery_codes: list[str] | None


def add(session: Session, user: User, response: str, user_agent: str, now: datetime) -> Added:
    """Verify the browser's new credential against this browser's registration
    challenge and keep it under a default name; audit, email the user. The
    user's first method turns MFA on, with recovery codes as after the app's
    setup. Raises PasskeyError (nothing kept) otherwise.
    """
    row = challenges.claim(session, Ceremony.REGISTER, now)
    if row is None or row.user_id != user.id or row.user_handle is None:
        raise PasskeyError(EXPIRED)
    try:
        new = ceremony.verify_registration(response, row.challenge)
    except ceremony.CeremonyError as error:
        raise PasskeyError(NOT_ADDED) from error
    taken = {passkey.name for passkey in passkeys_of(session, user)}
    passkey = Passkey(
        user_id=user.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        user_handle=row.user_handle,
        name=names.default_name(new.aaguid, user_agent, taken),
        aaguid=new.aaguid,
        user_verified=new.user_verified,
        created_at=now,
    )
    try:
        # A savepoint: a credential id already kept (unique) undoes this insert only.
        with session.begin_nested():
            session.add(passkey)
    except IntegrityError as error:
        raise PasskeyError(ALREADY_ADDED) from error
    count_passkeys(session, user, +1)
    codes = turn_on(session, user, now) if claim_first_method(session, user) else None
    if codes is not None:
        audit.record(session, Action.MFA_ENABLED, actor=user, subject=user, method="passkey")
    record_own_change(
        session,
        user,
        Action.PASSKEY_ADDED,
        "passkey_added",
        "A passkey was added to your account",
        now,
        passkey=passkey.name,
    )
    return Added(passkey, codes)


def claim_first_method(session: Session, user: User) -> bool:
    """Whether this request turns MFA on: a conditional UPDATE, so of two tabs
    adding a first passkey at once only one makes (and shows) recovery codes."""
    users = User.__table__
    claimed = session.execute(
        sa.update(users)
        .where(users.c.id == user.id, users.c.mfa_enabled == sa.false())
        .values(mfa_enabled=True)
    ).rowcount
    session.expire(user, ["mfa_enabled"])
    return claimed == 1


def count_passkeys(session: Session, user: User, change: int) -> None:
    """Keep `users.passkey_count` (the admin list, the adoption counts) in step:
    an UPDATE relative to the row, so two tabs adding at once count both."""
    users = User.__table__
    session.execute(
        sa.update(users)
        .where(users.c.id == user.id)
        .values(passkey_count=users.c.passkey_count + change)
    )
    session.expire(user, ["passkey_count"])


# --- renaming and removing ----------------------------------------------------


def rename(session: Session, user: User, passkey: Passkey, name: str) -> None:
    old_name, passkey.name = passkey.name, names.clean(name)
    session.add(passkey)
    audit.record(
        session,
        Action.PASSKEY_RENAMED,
        actor=user,
        subject=user,
        passkey=passkey.name,
        old_name=old_name,
    )


def is_last_method(session: Session, user: User) -> bool:
    """Whether removing one passkey would leave the user without MFA."""
    app = credential_of(session, user)
    return not (app is not None and app.confirmed) and count_of(session, user) <= 1


def remove(session: Session, user: User, passkey: Passkey, now: datetime) -> None:
    """Remove a passkey that is not the user's last method (the caller makes
    sure: removing the last one is turning MFA off, with its own proof)."""
    session.delete(passkey)
    count_passkeys(session, user, -1)
    record_own_change(
        session,
        user,
        Action.PASSKEY_REMOVED,
        "passkey_removed",
        "A passkey was removed from your account",
        now,
        passkey=passkey.name,
    )
