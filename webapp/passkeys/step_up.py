""" "Use a passkey" in "Confirm it's you" (webapp.auth.step_up): the signed-in
user's own passkey as a step-up proof, in place of a code.

The ceremony is the second step's (`sign_in.check_own_passkey`): a challenge
of its own kind (`Ceremony.STEP_UP`) for this browser session and this user,
5 minutes, used once; one of this user's passkeys; a counter that moved on
(a regression audited). User verification is required: the proof is meant to
show that the person is at the keyboard, not only that the device is near.
A refusal counts toward the same wrong-code lock as a wrong code.
Services never commit: the request does.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from webapp.mfa.services import CodeCheck
from webapp.models import Ceremony, User
from webapp.passkeys import ceremony, challenges
from webapp.passkeys.services import passkeys_of
from webapp.passkeys.sign_in import check_own_passkey

# The wrong-attempt throttle's and the audit log's name for it.
WHERE = "step_up_passkey"
REFUSED = "That passkey was not accepted. Try again, or enter a code."


def options(session: Session, user: User, now: datetime) -> dict | None:
    """Options for the prompt's "Use a passkey": one of the user's passkeys,
    user verification required. None when the user has no passkey."""
    allow = [passkey.credential_id for passkey in passkeys_of(session, user)]
    if not allow:
        return None
    challenge = challenges.issue(session, Ceremony.STEP_UP, user, now)
    return ceremony.authentication_options(
        challenge=challenge, allow=allow, user_verification="required"
    )


def check(session: Session, user: User, response: str, now: datetime) -> CodeCheck:
    """The prompt's `passkey_assertion`, checked as a code is (and counted)."""
    return check_own_passkey(
        session,
        user,
        response,
        now,
        kind=Ceremony.STEP_UP,
        where=WHERE,
        require_user_verification=True,
    )
