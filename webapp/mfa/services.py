"""The user's own MFA: enrolment, code checks (with the replay guard and the
throttle), recovery codes, and turning MFA off (shared with the admin reset).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from webapp import audit, outbox, timefmt
from webapp.audit import Action
from webapp.crypto import decrypt_secret, encrypt_secret, hash_recovery_code
from webapp.mfa import throttle, totp
from webapp.mfa.recovery import (
    is_recovery_code_shaped,
    normalize_recovery_code,
    recovery_codes_left,
    replace_recovery_codes,
)
from webapp.models import Passkey, PendingSignIn, RecoveryCode, TotpCredential, User


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAY = "replay"
    LOCKED = "locked"


# What a refused code's owner reads (a lock has its own message, with the time).
OUTCOME_MESSAGES = {
    Outcome.WRONG: "That code is not right. Check your app and try again.",
    Outcome.REPLAY: "That code was already used. Wait for your app to show a new code.",
}


@dataclass(frozen=True)
class CodeCheck:
    """What a code check found; `locked_until` is set when the step is (now) locked."""

    outcome: Outcome
    locked_until: datetime | None = None
    recovery_codes_left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


class EnrolmentError(Exception):
    """Enrolment refused; `message` is fit to show, `expired` offers a new key,
    `first_code_right` says the first code may stay while the second is retyped."""

    def __init__(
        self, message: str, *, expired: bool = False, locked_until=None, first_code_right=False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired
        self.locked_until = locked_until
        self.first_code_right = first_code_right


# --- enrolment --------------------------------------------------------------


def credential_of(session: Session, user: User) -> TotpCredential | None:
    return session.exec(select(TotpCredential).where(TotpCredential.user_id == user.id)).first()


def pending_enrolment(session: Session, user: User, now: datetime) -> TotpCredential | None:
    """The user's unexpired, unconfirmed credential, if any."""
    credential = credential_of(session, user)
    if credential is None or credential.confirmed:
        return None
    if credential.pending_expires_at is None or credential.pending_expires_at <= now:
        return None
    return credential


def start_enrolment(session: Session, user: User, now: datetime) -> TotpCredential:
    """The pending credential to show: the live one if there is one (so two tabs
    show the same secret), else a new secret that expires in 10 minutes.
    """
    live = pending_enrolment(session, user, now)
    if live is not None:
        return live
    credential = credential_of(session, user)
    if credential is not None and credential.confirmed:
        raise EnrolmentError("Multi-factor authentication is already enabled.")
    expires = now + current_app.config["MFA_PENDING_ENROLMENT_TTL"]
    if credential is None:
        credential = TotpCredential(user_id=user.id, secret_encrypted="")
    credential.secret_encrypted = encrypt_secret(totp.new_secret())
    credential.pending_expires_at = expires
    credential.last_used_step = 0
    credential.created_at = now
    try:
        # A savepoint: a clash undoes this insert, not the caller's transaction.
        with session.begin_nested():
            session.add(credential)
    except IntegrityError:
        # Another tab created one at the same moment: show that one.
        live = pending_enrolment(session, user, now)
        if live is None:
            raise
        return live
    return credential


def enrolment_secret(credential: TotpCredential) -> str:
    return decrypt_secret(credential.secret_encrypted)


def confirm_enrolment(
    session: Session, user: User, first: str, second: str, now: datetime
) -> list[str]:
    """Turn MFA on if `first` and `second` are two consecutive codes of the
    pending secret, the first within one step of now. Records the second
    code's step as used, audits, emails the user and returns the new recovery
    codes (plain, to be shown once). Raises EnrolmentError and changes nothing
    (but the wrong-code count) otherwise.
    """
    if first == second:
        raise EnrolmentError(
            "The two codes are the same. Wait for your app to show the next code "
            "and enter that as the second code.",
            first_code_right=True,
        )
    credential = credential_of(session, user)
    if credential is not None and credential.confirmed:
        raise EnrolmentError("Multi-factor authentication is already enabled.")
    if pending_enrolment(session, user, now) is None:
        raise EnrolmentError(
            "This setup expired (a key is valid for 10 minutes). Start again to get a new key.",
            expired=True,
        )
    secret = enrolment_secret(credential)
    first_step = totp.matching_step(secret, first, now)
    right = first_step is not None and secrets.compare_digest(
        totp.code_at_step(secret, first_step + 1), second
    )
    locked_until = None
    if not throttle.take_attempt(session, user, now):
        locked_until = throttle.current_lock(user, now)
    elif right:
        throttle.clear(user)
        return _enable(session, user, credential, first_step + 1, now)
    else:
        locked_until = throttle.record_failure(session, user, now, where="enrolment")
    if locked_until:
        raise EnrolmentError(
            locked_message(locked_until, timefmt.timezone_of(session, user.system_id), now),
            locked_until=locked_until,
        )
    if first_step is not None:
        raise EnrolmentError(
            "The first code is right but the second is not the code that came next. "
            "Enter the next code your app shows after the first one.",
            first_code_right=True,
        )
    raise EnrolmentError(
        "Those codes do not match this key. Check that your app uses the key shown "
        "here and that your device's clock is set automatically."
    )


def _enable(
    session: Session, user: User, credential: TotpCredential, last_step: int, now: datetime
) -> list[str]:
    table = TotpCredential.__table__
    confirmed = session.execute(
        sa.update(table)
        .where(table.c.id == credential.id, table.c.confirmed_at.is_(None))
        # Both enrolment codes count as used: neither can sign in later.
        .values(confirmed_at=now, pending_expires_at=None, last_used_step=last_step)
    ).rowcount
    if not confirmed:
        # Another tab saved first; its recovery codes must stay the valid ones.
        raise EnrolmentError("Multi-factor authentication is already enabled.")
    codes = turn_on(session, user, now)
    user.mfa_app = True
    record_own_change(
        session, user, Action.MFA_ENABLED, "mfa_enabled", "Multi-factor authentication is on", now
    )
    return codes


def turn_on(session: Session, user: User, now: datetime) -> list[str]:
    """MFA on with the user's first method (the app or a passkey): the flags
    the lists and jobs read, and new recovery codes, returned to be shown once."""
    user.mfa_enabled = True
    user.mfa_enabled_at = now
    user.mfa_deadline = None
    return replace_recovery_codes(session, user, now)


def record_own_change(
    session: Session,
    user: User,
    action: Action,
    template: str,
    subject: str,
    now: datetime,
    **details,
) -> None:
    """Audit a change the user made to their own MFA, and email them about it
    (`details` go into the audit event and the email's template)."""
    audit.record(session, action, actor=user, subject=user, **details)
    outbox.queue_user_email(
        session,
        user,
        kind=template,
        subject=subject,
        template=template,
        dedupe_key=f"{template}:{user.id}:{now.timestamp()}",
        when=now,
        **details,
    )


def locked_message(locked_until: datetime | None, timezone: str, now: datetime) -> str:
    """What a locked user reads: how long in words, and when on their firm's clock
    ("Try again in 2 minutes, at 08:41 NZDT")."""
    if locked_until is None:
        return "Too many wrong codes. For your security, codes are locked for a few minutes."
    return (
        "Too many wrong codes. For your security, codes are locked. "
        f"Try again {timefmt.wait_in_words(now, locked_until, timezone)}."
    )


# --- recovery codes ---------------------------------------------------------


def regenerate_recovery_codes(session: Session, user: User, code: str, now: datetime):
    """New recovery codes, if `code` (from the app) is right: (CodeCheck, codes or None)."""
    check = check_totp(session, user, code, now, where="recovery_codes")
    if not check.accepted:
        return check, None
    return check, new_recovery_codes(session, user, now)


def new_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    """New recovery codes (the caller has the proof that it is the user): audited."""
    codes = replace_recovery_codes(session, user, now)
    audit.record(session, Action.MFA_RECOVERY_CODES_REGENERATED, actor=user, subject=user)
    return codes


# --- code checks ------------------------------------------------------------


def check_code(session: Session, user: User, code: str, now: datetime, *, where: str):
    """Check a code from the app or, if it looks like one, a recovery code."""
    if is_recovery_code_shaped(code):
        return check_recovery_code(session, user, code, now, where=where)
    return check_totp(session, user, code, now, where=where)


def check_totp(
    session: Session,
    user: User,
    code: str,
    now: datetime,
    *,
    where: str,
    credential: TotpCredential | None = None,
) -> CodeCheck:
    """Accept `code` once: it must match a step within ±1 of now that is later
    than the last accepted step (RFC 6238 §5.2). The step is claimed with a
    conditional UPDATE, so of two requests with the same code exactly one wins.
    `credential`: the user's, when the caller has already read it.
    """
    if not throttle.take_attempt(session, user, now):
        return locked_check(user, now)
    if credential is None:
        credential = credential_of(session, user)
    step = None
    if credential is not None and credential.confirmed:
        step = totp.matching_step(decrypt_secret(credential.secret_encrypted), code, now)
    if step is None:
        return failed_check(session, user, now, where=where)
    table = TotpCredential.__table__
    claimed = session.execute(
        sa.update(table)
        .where(table.c.id == credential.id, table.c.last_used_step < step)
        .values(last_used_step=step)
    ).rowcount
    if not claimed:
        audit.record(
            session, Action.SIGNIN_MFA_REPLAY, actor=user, subject=user, where=where, step=step
        )
        return failed_check(session, user, now, where=where, outcome=Outcome.REPLAY)
    throttle.clear(user)
    return CodeCheck(Outcome.ACCEPTED)


def check_recovery_code(
    session: Session, user: User, code: str, now: datetime, *, where: str
) -> CodeCheck:
    """Accept an unused recovery code once (marked used with a conditional UPDATE)."""
    if not throttle.take_attempt(session, user, now):
        return locked_check(user, now)
    table = RecoveryCode.__table__
    used = session.execute(
        sa.update(table)
        .where(
            table.c.user_id == user.id,
            table.c.code_hash == hash_recovery_code(normalize_recovery_code(code)),
            table.c.used_at.is_(None),
        )
        .values(used_at=now)
    ).rowcount
    if not used:
        return failed_check(session, user, now, where=where)
    left = recovery_codes_left(session, user)
    throttle.clear(user)  # after the count's query, so it is written with the sign-in
    audit.record(
        session, Action.MFA_RECOVERY_CODE_USED, actor=user, subject=user, where=where, left=left
    )
    return CodeCheck(Outcome.ACCEPTED, recovery_codes_left=left)


def locked_check(user: User, now: datetime) -> CodeCheck:
    """The attempt was not counted: the user is locked (or out of attempts)."""
    return CodeCheck(Outcome.LOCKED, locked_until=throttle.current_lock(user, now))


def failed_check(
    session: Session, user: User, now: datetime, *, where: str, outcome: Outcome = Outcome.WRONG
) -> CodeCheck:
    """A counted attempt failed: audited, and maybe the one that locks."""
    locked_until = throttle.record_failure(session, user, now, where=where)
    if locked_until:
        return CodeCheck(Outcome.LOCKED, locked_until=locked_until)
    return CodeCheck(outcome)


# --- turning MFA off --------------------------------------------------------


def deactivate(session: Session, user: User, code: str, now: datetime) -> CodeCheck:
    """Turn the user's own MFA off after a right code (app or recovery code):
    remove everything (`remove_mfa`, which ends every session), audit, email.
    The caller refuses first when the system requires MFA.
    """
    check = check_code(session, user, code, now, where="deactivate")
    if not check.accepted:
        return check
    removed = remove_mfa(session, user)
    record_own_change(
        session,
        user,
        Action.MFA_DISABLED,
        "mfa_disabled",
        "Multi-factor authentication is off",
        now,
        **removed,
    )
    return check


def remove_mfa(session: Session, user: User) -> dict[str, bool | int]:
    """Turn MFA off for `user`: delete every method (app, passkeys) and recovery codes,
    drop pending code steps, clear the wrong-code throttle, and end every
    session of theirs. The caller audits and emails; it returns what was
    removed, for the audit event (the adoption backfill replays it).
    """
    removed = {"had_app": user.mfa_app, "had_passkeys": user.passkey_count}
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.exec(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    session.exec(delete(Passkey).where(Passkey.user_id == user.id))
    session.exec(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    user.mfa_enabled = False
    user.mfa_enabled_at = None
    user.mfa_app = False
    user.passkey_count = 0
    user.mfa_failed_count = 0
    user.mfa_lock_count = 0
    user.mfa_locked_until = None
    user.session_version += 1
    session.add(user)
    return removed
