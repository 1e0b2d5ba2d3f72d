"""Setting a password: by an emailed link (a reset; an invitation) or on My
Profile (a change). One function does what every new password does
(`set_password`): the hash, every session of the user ended, their pending
sign-ins dropped, every emailed link used up, the account's password lock
cleared, the audit event and the "password changed" email. Nothing here signs
anyone in: after a reset the user signs in as usual, code step included.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import url_for
from sqlmodel import Session, delete

from webapp import audit, outbox
from webapp.audit import Action
from webapp.auth.services import find_user_by_email, password_is_right
from webapp.crypto import hash_password, token_hash
from webapp.limits import account_lock, policy
from webapp.limits.counters import Policy
from webapp.models import PendingSignIn, System, User
from webapp.passwords import rules, tokens
from webapp.passwords.tokens import Purpose
from webapp.sso.policy import policy_for

# At most 3 reset emails per account an hour, whatever the addresses asking
# (an unknown email is counted the same, so the answer tells nothing).
RESET_EMAILS = Policy(
    limit=3,
    window=timedelta(hours=1),
    lock_for=lambda _: timedelta(hours=1),
    between_locks=3,
)
# And per address, all emails together: 20 requests an hour, then a wait.
RESET_REQUESTS = Policy(
    limit=20,
    window=timedelta(hours=1),
    lock_for=policy.doubling(timedelta(minutes=1), timedelta(minutes=15)),
    between_locks=1,
)
WRONG_CURRENT = "Your current password is not right."


def problems(session: Session, user: User, password: str) -> list[str]:
    """What is wrong with `password` as `user`'s new password (README, "Passwords")."""
    system = session.get(System, user.system_id)
    return rules.problems(password, email=user.email, firm_name=system.name)


def address_may_ask(now: datetime) -> bool:
    """Count one reset request of the client's address; False once it is over its limit."""
    if not policy.enabled():
        return True
    return policy.count_failure(policy.address_key("reset"), RESET_REQUESTS, now).counted


def request_reset(session: Session, email: str, now: datetime) -> None:
    """ "Send reset link": email a link to the account with this address, if
    there is one that signs in with a password and it has had fewer than 3 this
    hour. Says nothing either way; an unknown email costs the same statements
    up to the row it would have written."""
    counted = policy.count_failure(
        "reset-email:" + policy.account_key(email), RESET_EMAILS, now
    ).counted
    user = find_user_by_email(session, email)
    if not counted or user is None or not user.active:
        return
    if not policy_for(session, user.system_id).allows_password(user):
        return  # the firm signs in with single sign-on only: no password to set
    token = tokens.issue(session, user, Purpose.RESET, tokens.RESET_LINK_TTL, now)
    audit.record(
        session, Action.PASSWORD_RESET_REQUESTED, subject=user, address=policy.client_address()
    )
    outbox.queue_user_email(
        session,
        user,
        kind="password_reset",
        subject="Reset your Firmguard password",
        template="password_reset",
        dedupe_key=f"password_reset:{token_hash(token)[:32]}",
        when=now,
        minutes=int(tokens.RESET_LINK_TTL.total_seconds() // 60),
        reset_path=url_for("passwords.open_link", token=token),
    )


def set_with_token(
    session: Session, token: str, purpose: Purpose, password: str, now: datetime
) -> User | None:
    """Set the password of the link's user, using the link up (once: of two
    simultaneous requests one wins). None when the link is no longer live."""
    user = tokens.holder(session, token, purpose, now)
    if user is None or not tokens.claim(session, token, purpose, now):
        return None
    action = Action.PASSWORD_RESET if purpose is Purpose.RESET else Action.PASSWORD_SET
    if purpose is Purpose.INVITATION:
        # The invitation accepted: active from now on (README, "Adding users").
        user.active = True
        user.invited_at = None
    set_password(session, user, password, now, action=action, actor=None)
    return user


def check_current_password(session: Session, user: User, password: str, now: datetime):
    """The current password under the account's lock: None when right; else
    what to say. A wrong one counts toward the account's limit, as a wrong
    password at sign-in does (README, "Sign-in limits")."""
    gate = account_lock.gate_of(session, user.email, now)
    if gate.locked_until is not None:
        return account_lock.refusal_message(gate.locked_until, now)
    if not password_is_right(user, password):
        account_lock.wrong_password(session, gate, user.email, now)
        return WRONG_CURRENT
    return None


def set_password(
    session: Session,
    user: User,
    password: str,
    now: datetime,
    *,
    action: Action,
    actor: User | None,
) -> None:
    """A new password for `user`, with everything a new password means. The
    caller checked the rules. Every session of the user ends (the session
    version moves on: a change on My Profile keeps its own by signing it in
    again, `webapp.auth.sessions.keep_this_session`)."""
    user.password_hash = hash_password(password)
    user.session_version += 1
    session.add(user)
    session.exec(delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    tokens.use_up(session, user, now)
    policy.storage().forget(policy.account_key(user.email))
    audit.record(session, action, actor=actor, subject=user)
    if action is Action.PASSWORD_SET:
        return  # their first password, just chosen: nothing to warn them of
    outbox.queue_user_email(
        session,
        user,
        kind="password_changed",
        subject="Your Firmguard password was changed",
        template="password_changed",
        # One per change: each moves the session version on.
        dedupe_key=f"password_changed:{user.id}:{user.session_version}",
        when=now,
        by_link=action is not Action.PASSWORD_CHANGED,
    )
