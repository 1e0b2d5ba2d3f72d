"""The audit log: append-only records of security-relevant actions."""

from __future__ import annotations

from sqlmodel import Session

from webapp.models import AuditEvent, utcnow


class Action:
    """The audit actions in use (the admin audit page filters on these)."""

    MFA_ENABLED = "mfa.enabled"
    MFA_DISABLED = "mfa.disabled"
    MFA_RESET_BY_ADMIN = "mfa.reset_by_admin"
    MFA_RECOVERY_CODES_REGENERATED = "mfa.recovery_codes_regenerated"
    MFA_RECOVERY_CODE_USED = "mfa.recovery_code_used"
    MFA_REQUIRED_CHANGED = "mfa.required_changed"
    SIGNIN_SUCCEEDED = "signin.succeeded"
    SIGNIN_FAILED = "signin.failed"
    SIGNIN_MFA_FAILED = "signin.mfa_failed"
    SIGNIN_MFA_REPLAY = "signin.mfa_replay"
    SIGNIN_LOCKED = "signin.locked"
    SIGNOUT = "signout"
    USER_UPDATED = "user.updated"
    SYSTEM_UPDATED = "system.updated"
    HEADS_UP_RULE_CHANGED = "heads_up.rule_changed"

    ALL = (
        MFA_ENABLED,
        MFA_DISABLED,
        MFA_RESET_BY_ADMIN,
        MFA_RECOVERY_CODES_REGENERATED,
        MFA_RECOVERY_CODE_USED,
        MFA_REQUIRED_CHANGED,
        SIGNIN_SUCCEEDED,
        SIGNIN_FAILED,
        SIGNIN_MFA_FAILED,
        SIGNIN_MFA_REPLAY,
        SIGNIN_LOCKED,
        SIGNOUT,
        USER_UPDATED,
        SYSTEM_UPDATED,
        HEADS_UP_RULE_CHANGED,
    )


def record(
    session: Session,
    *,
    system_id: int,
    action: str,
    actor_id: int | None = None,
    subject_id: int | None = None,
    **details,
) -> AuditEvent:
    """Add an audit event to `session` (committed with the caller's change)."""
    event = AuditEvent(
        system_id=system_id,
        action=action,
        actor_id=actor_id,
        subject_id=subject_id,
        details=details,
        created_at=utcnow(),
    )
    session.add(event)
    return event
