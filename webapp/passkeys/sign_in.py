"""Signing in with a passkey: as the second step (after the password, in place
of a code) and passwordless ("Sign in with a passkey": a discoverable
credential with user verification, both factors at once). Either way an
assertion is counted by the same per-user wrong-attempt throttle as codes,
before it is checked, and its challenge is this browser's, used once.
Services never commit: the request does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from webapp import audit
from webapp.audit import Action
from webapp.mfa import throttle
from webapp.mfa.services import CodeCheck, Outcome, failed_check, locked_check
from webapp.models import Ceremony, Passkey, User
from webapp.passkeys import ceremony, challenges
from webapp.passkeys.services import passkeys_of

# The wrong-attempt throttle's and the audit log's names for the two ways.
SECOND_STEP = "sign_in_passkey"
PASSWORDLESS = "sign_in_passwordless"


# --- the second step ------------------------------------------------------------


def second_step_options(session: Session, user: User, now: datetime) -> dict:
    """Options for "Use a passkey": one of the pending user's passkeys, user
    verification preferred (the password was the first factor)."""
    challenge = challenges.issue(session, Ceremony.SECOND_STEP, user, now)
    return ceremony.authentication_options(
        challenge=challenge,
        allow=[passkey.credential_id for passkey in passkeys_of(session, user)],
        user_verification="preferred",
    )


def check_second_step(session: Session, user: User, response: str, now: datetime) -> CodeCheck:
    """Accept an assertion as the pending user's second factor, as a code is
    (`check_own_passkey`; user verification not required: the password was
    the other factor)."""
    return check_own_passkey(
        session,
        user,
        response,
        now,
        kind=Ceremony.SECOND_STEP,
        where=SECOND_STEP,
        require_user_verification=False,
    )


def check_own_passkey(
    session: Session,
    user: User,
    response: str,
    now: datetime,
    *,
    kind: Ceremony,
    where: str,
    require_user_verification: bool,
) -> CodeCheck:
    """An assertion by one of `user`'s own passkeys, checked as a code is:
    counted first by the throttle; this browser's challenge for `kind`,
    issued to `user`, used once; one of this user's passkeys; its signature;
    a counter that moved on. A refusal counts as a wrong code (`where`).
    """
    if not throttle.take_attempt(session, user, now):
        return locked_check(user, now)
    row = challenges.claim(session, kind, now)
    claim = ceremony.asserted_claim(response)
    passkey = None
    if claim is not None:
        passkey = session.exec(
            select(Passkey).where(
                Passkey.credential_id == claim.credential_id, Passkey.user_id == user.id
            )
        ).first()
    if row is None or row.user_id != user.id or passkey is None:
        return failed_check(session, user, now, where=where)
    return verify_use(
        session,
        user,
        passkey,
        response,
        row.challenge,
        now,
        where=where,
        require_user_verification=require_user_verification,
    )


# --- passwordless ---------------------------------------------------------------


def passwordless_options(session: Session, now: datetime) -> dict:
    """Options for "Sign in with a passkey": no user yet, so no list of
    credentials (the authenticator offers its discoverable ones for this
    site), and user verification required: the passkey is both factors."""
    challenge = challenges.issue(session, Ceremony.PASSWORDLESS, None, now)
    return ceremony.authentication_options(
        challenge=challenge, allow=[], user_verification="required"
    )


@dataclass(frozen=True)
class Passwordless:
    """What a passwordless assertion found: whose passkey it is (None when no
    active user's) and the check, accepted or not."""

    user: User | None
    check: CodeCheck


REFUSED = CodeCheck(Outcome.WRONG)


def check_passwordless(session: Session, response: str, now: datetime) -> Passwordless:
    """Accept an assertion as a whole sign-in: this browser's passwordless
    challenge, used once; a passkey of an active user, whose attempt is
    counted first; the account the authenticator names is that passkey's
    (WebAuthn §7.2 step 6); the signature with user verification; a counter
    that moved on.
    """
    row = challenges.claim(session, Ceremony.PASSWORDLESS, now)  # used up, whatever follows
    claim = ceremony.asserted_claim(response)
    found = None
    if claim is not None:
        found = session.exec(
            select(Passkey, User)
            .join(User, User.id == Passkey.user_id)
            .where(Passkey.credential_id == claim.credential_id)
        ).first()
    if found is None:
        return Passwordless(None, REFUSED)
    passkey, user = found
    if not user.active:
        audit.record(session, Action.SIGNIN_FAILED, subject=user, reason="inactive", way="passkey")
        return Passwordless(None, REFUSED)
    if not throttle.take_attempt(session, user, now):
        return Passwordless(user, locked_check(user, now))
    if row is None or claim.user_handle != passkey.user_handle:
        return Passwordless(user, failed_check(session, user, now, where=PASSWORDLESS))
    check = verify_use(
        session,
        user,
        passkey,
        response,
        row.challenge,
        now,
        where=PASSWORDLESS,
        require_user_verification=True,
    )
    return Passwordless(user, check)


# --- every use --------------------------------------------------------------------


def verify_use(
    session: Session,
    user: User,
    passkey: Passkey,
    response: str,
    challenge: bytes,
    now: datetime,
    *,
    where: str,
    require_user_verification: bool,
) -> CodeCheck:
    """The attempt already counted: the signature over `challenge` (with user
    verification where the passkey must prove the person, not only the
    device: passwordless, step-up), then the counter."""
    try:
        assertion = ceremony.verify_assertion(
            response,
            challenge,
            passkey.public_key,
            require_user_verification=require_user_verification,
        )
    except ceremony.CeremonyError:
        return failed_check(session, user, now, where=where)
    if not advance_counter(session, passkey, assertion.sign_count, now):
        audit.record(
            session,
            Action.PASSKEY_COUNTER_REGRESSED,
            actor=user,
            subject=user,
            passkey=passkey.name,
            stored_count=passkey.sign_count,
            sign_count=assertion.sign_count,
        )
        return failed_check(session, user, now, where=where)
    throttle.clear(user)
    audit.record(
        session, Action.PASSKEY_USED, actor=user, subject=user, passkey=passkey.name, where=where
    )
    return CodeCheck(Outcome.ACCEPTED)


def advance_counter(session: Session, passkey: Passkey, sign_count: int, now: datetime) -> bool:
    """Record a use. An authenticator that keeps a counter must show a higher
    one each time: one at or below the highest seen means a copy of the key
    signed (W3C WebAuthn §6.1.1), and is refused. A conditional UPDATE, so two
    assertions with the same counter cannot both pass.
    """
    table = Passkey.__table__
    # An authenticator that keeps no counter always sends 0.
    moved_on = table.c.sign_count < sign_count if sign_count else table.c.sign_count == 0
    updated = session.execute(
        sa.update(table)
        .where(table.c.id == passkey.id, moved_on)
        .values(sign_count=sign_count, last_used_at=now)
    ).rowcount
    return updated == 1
