"""Admin: editing a user (name, role, active) and resetting their MFA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from webapp import audit
from webapp.accounts import FieldError, lock_firm
from webapp.audit import Action
from webapp.mfa.services import remove_mfa
from webapp.models import Role, System, User
from webapp.offboarding import end_access
from webapp.outbox import queue_user_email


def find_user(session: Session, system_id: int, user_id: int) -> User | None:
    """A user of this system only (another system's id is as good as unknown)."""
    user = session.get(User, user_id)
    return user if user is not None and user.system_id == system_id else None


OWN_MFA = (
    "You cannot turn off your own MFA here. Use My Profile → Deactivate, which asks "
    "for a code (not offered while the firm requires MFA)."
)


def stop_being_admin(session: Session, user: User, role: str, active: bool) -> bool:
    """Demote or deactivate the active admin `user` only while another active
    admin of the firm remains; False (nothing changed) when they are the last.

    Two such changes at once (two admins demoting each other, "demote me" with
    "deactivate the other") must not both see the other admin and both go
    ahead. PostgreSQL: each first locks the firm's row (`lock_firm`), so they
    queue, and the check after the lock sees what the first committed.
    SQLite (no row locks, one writer at a time): the check is inside the UPDATE
    that makes the change, so it runs under the database's write lock.
    """
    users = User.__table__
    lock_firm(session, user.system_id)
    other = users.alias("other_admin")
    another_admin = sa.exists().where(
        other.c.system_id == users.c.system_id,
        other.c.id != users.c.id,
        other.c.active == sa.true(),
        other.c.role == Role.ADMIN.value,
    )
    changed = session.execute(
        sa.update(users)
        .where(users.c.id == user.id, another_admin)
        .values(role=role, active=active)
    ).rowcount
    if changed:
        # The row as it is now (the ORM need not write these again).
        set_committed_value(user, "role", role)
        set_committed_value(user, "active", active)
    return bool(changed)


def enrolment_deadline(system: System, now: datetime) -> datetime | None:
    """When a user without MFA must have enrolled under the system's enforcement."""
    if not system.mfa_required:
        return None
    since = system.mfa_required_since or now
    return max(now, since + timedelta(days=system.mfa_grace_days))


@dataclass(frozen=True)
class UserChanges:
    display_name: str
    role: str
    active: bool
    mfa_enabled: bool
    billing_acknowledged: bool


def update_user(
    session: Session, *, admin: User, user: User, changes: UserChanges, now: datetime
) -> None:
    """Apply an admin's edit of `user` (an MFA reset emails them).

    All or nothing: any refused part raises `FieldError` before a change is made.
    """
    name = " ".join(changes.display_name.split())
    if not name or len(name) > 200:
        raise FieldError("display_name", "The name must be 1 to 200 characters.")
    if changes.role not in {role.value for role in Role}:
        raise FieldError("role", "Choose a role.")
    if changes.mfa_enabled and not user.mfa_enabled:
        raise FieldError(
            "mfa_enabled",
            "An admin cannot turn MFA on for someone else: the user sets it up from My Profile.",
        )
    resetting = user.mfa_enabled and not changes.mfa_enabled
    if resetting and user.id == admin.id:
        raise FieldError("mfa_enabled", OWN_MFA)
    if resetting and not changes.billing_acknowledged:
        raise FieldError(
            "accept_billing",
            "To turn MFA off, select “I accept the billing changes and understand the "
            "terms of use”. Nothing was changed.",
        )
    before = {"display_name": user.display_name, "role": user.role, "active": user.active}
    losing_admin = user.active_admin and (changes.role != Role.ADMIN.value or not changes.active)
    if losing_admin and not stop_being_admin(session, user, changes.role, changes.active):
        raise FieldError(
            "role" if changes.role != Role.ADMIN.value else "active",
            "This is the last active admin: make someone else an admin first.",
        )
    user.display_name, user.role, user.active = name, changes.role, changes.active
    if user.active:
        user.invited_at = None  # made active by hand: their invitation link is dead
    user.refresh_search_key()
    diff = {
        field: [old, getattr(user, field)]
        for field, old in before.items()
        if old != getattr(user, field)
    }
    if diff.get("active") == [True, False]:
        end_access(session, user, now)  # a deactivated user's sessions end now
    session.add(user)
    if diff:
        audit.record(session, Action.USER_UPDATED, actor=admin, subject=user, changes=diff)
    if resetting:
        reset_mfa(session, admin=admin, user=user, now=now)


def reset_mfa(session: Session, *, admin: User, user: User, now: datetime) -> None:
    """Turn `user`'s MFA off for them (the billing terms accepted), audit it, and
    queue the email telling them to set it up again."""
    removed = remove_mfa(session, user)
    system = session.get(System, user.system_id)
    user.mfa_deadline = enrolment_deadline(system, now)
    session.add(user)
    audit.record(
        session,
        Action.MFA_RESET_BY_ADMIN,
        actor=admin,
        subject=user,
        billing_acknowledged=True,
        admin_email=admin.email,
        **removed,
    )
    queue_user_email(
        session,
        user,
        kind="admin_mfa_reset",
        subject="Your multi-factor authentication was reset",
        template="admin_mfa_reset",
        dedupe_key=f"admin_mfa_reset:{user.id}:{user.session_version}",
        user_name=user.display_name,
        admin_name=admin.display_name,
        system_name=system.name,
        profile_url=current_app.config["BASE_URL"].rstrip("/") + url_for("mfa.profile"),
    )
