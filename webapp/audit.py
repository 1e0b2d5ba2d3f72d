"""The audit log: append-only records of security-relevant actions."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from webapp.models import AuditEvent, System, User, utcnow


class Action(StrEnum):
    """Every action the log records (the admin audit page filters on these)."""

    MFA_ENABLED = "mfa.enabled"
    MFA_DISABLED = "mfa.disabled"
    MFA_RESET_BY_ADMIN = "mfa.reset_by_admin"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_REQUIRED_CHANGED = "mfa.required_changed"
    MFA_REMINDER_SENT = "mfa.reminder_sent"  # an admin's reminder to one user
    MFA_REMINDERS_SENT = "mfa.reminders_sent"  # an admin's reminder to everyone without MFA
    PASSKEY_ADDED = "passkey.added"
    PASSKEY_RENAMED = "passkey.renamed"
    PASSKEY_REMOVED = "passkey.removed"
    PASSKEY_USED = "passkey.used"  # a sign-in (or proof) made with a passkey
    PASSKEY_COUNTER_REGRESSED = "passkey.counter_regressed"  # refused: a possible clone
    SIGNIN_SUCCEEDED = "signin.succeeded"
    SIGNIN_FAILED = "signin.failed"
    SIGNIN_MFA_FAILED = "signin.mfa_failed"
    SIGNIN_MFA_REPLAY = "signin.mfa_replay"
    SIGNIN_LOCKED = "signin.locked"
    SIGNIN_PASSWORD_LOCKED = "signin.password_locked"  # noqa: S105 (an action name)
    SIGNIN_UNLOCK_LINK_USED = "signin.unlock_link_used"
    SIGNIN_LOCK_CLEARED = "signin.lock_cleared"  # an admin's "Clear sign-in lock"
    SIGNOUT = "signout"
    SESSION_SIGNED_OUT = "session.signed_out"  # one browser session, from "Where you're signed in"
    SESSIONS_SIGNED_OUT_ELSEWHERE = "session.signed_out_elsewhere"  # "Sign out everywhere else"
    SESSIONS_SIGNED_OUT_BY_ADMIN = (
        "session.signed_out_by_admin"  # Edit user's "Sign out everywhere"
    )
    PASSWORD_RESET_REQUESTED = "password.reset_requested"  # noqa: S105 (an action name)
    PASSWORD_RESET = "password.reset"  # noqa: S105 (set with a "Forgot your password?" link)
    PASSWORD_SET = "password.set"  # noqa: S105 (set with an invitation's link)
    PASSWORD_CHANGED = "password.changed"  # noqa: S105 (changed on My Profile)
    USER_UPDATED = "user.updated"
    USER_INVITED = "user.invited"
    USERS_IMPORTED = "users.imported"
    INVITATION_RESENT = "user.invitation_resent"
    INVITATION_REVOKED = "user.invitation_revoked"
    INVITATION_ACCEPTED_BY_SSO = "user.invitation_accepted_sso"  # first single sign-on
    SYSTEM_UPDATED = "system.updated"
    HEADS_UP_RULE_CHANGED = "heads_up.rule_changed"
    SSO_SIGN_IN = "auth.sso_sign_in"
    PASSKEY_SIGN_IN = "auth.passkey_sign_in"  # passwordless: the passkey was both factors
    SSO_FAILED = "auth.sso_failed"
    SSO_USER_CREATED = "auth.sso_user_created"
    SSO_SETTINGS_CHANGED = "sso.settings_changed"
    SSO_SECRET_REPLACED = "sso.secret_replaced"  # noqa: S105 (an action name)
    SSO_REQUIREMENT_CHANGED = "sso.requirement_changed"
    SSO_PROVIDER_MFA_ACKNOWLEDGED = "sso.provider_mfa_acknowledged"
    SSO_TEST_SIGN_IN = "sso.test_sign_in"
    STEP_UP = "auth.step_up"  # "Confirm it's you" before a sensitive action
    # Provisioning (SCIM): a change a token made names the token (`scim_token`).
    SCIM_TOKEN_CREATED = "scim.token_created"  # noqa: S105 (an action name)
    SCIM_TOKEN_REVOKED = "scim.token_revoked"  # noqa: S105 (an action name)
    SCIM_INVITATIONS_CHANGED = "scim.invitations_changed"  # an admin's "Email an invitation …"
    SCIM_USER_CREATED = "scim.user_created"
    SCIM_USER_UPDATED = "scim.user_updated"
    SCIM_USER_DELETED = "scim.user_deleted"
    SCIM_GROUP_CHANGED = "scim.group_changed"  # a pushed group (not a role group)


def record(
    session: Session,
    action: Action,
    *,
    actor: User | None = None,
    subject: User | None = None,
    system: System | None = None,
    **details,
) -> AuditEvent:
    """Add an audit event to `session` (written with the caller's change).

    Its firm is `system`, else that of `subject` or `actor`; `details` are
    kept as JSON.
    """
    event = AuditEvent(**_event_values(action, actor, subject, system, details))
    session.add(event)
    return event


def record_each(
    session: Session, action: Action, *, actor: User, subjects: list[User], **details
) -> None:
    """One event per subject, alike but for the subject, in one INSERT (an
    import's invitations): the same rows `record` writes, without the ORM's
    one statement per row."""
    if subjects:
        session.execute(
            sa.insert(AuditEvent),
            [_event_values(action, actor, subject, None, details) for subject in subjects],
        )


def _event_values(action, actor, subject, system, details) -> dict:
    return {
        "system_id": system.id if system is not None else (subject or actor).system_id,
        "action": Action(action).value,
        "actor_id": actor.id if actor is not None else None,
        "subject_id": subject.id if subject is not None else None,
        "details": details,
        "created_at": utcnow(),
    }
