"""Admin: the firm's security settings (MFA enforcement, country and accounting
link, the heads-up rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from webapp import audit
from webapp.accounts import FieldError
from webapp.admin.user_list import mfa_totals
from webapp.audit import Action
from webapp.countries import COUNTRIES
from webapp.models import AccountingLink, HeadsUpKind, HeadsUpRule, System, User

MAX_GRACE_DAYS = 365


def users_to_enrol(session: Session, system_id: int, counts_sso: bool = False) -> int:
    """Active users without MFA: those enforcement makes enrol (`counts_sso`: not
    those who last signed in through the firm's single sign-on, which counts)."""
    return mfa_totals(session, system_id, counts_sso).without_mfa


def set_enforcement(
    session: Session,
    *,
    admin: User,
    system: System,
    required: bool,
    grace_days: int,
    now: datetime,
) -> int:
    """Switch firm-wide MFA on or off; return how many users got a deadline.

    On: every active user without MFA must enrol by now + grace days (0: at
    the next sign-in), set in one UPDATE. Off: every deadline is cleared.
    """
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise FieldError("grace_days", f"The grace period is 0 to {MAX_GRACE_DAYS} days.")
    if required and not system.mfa_required and not admin.mfa_enabled:
        # As GitHub does for organisations: whoever requires MFA has it, so
        # switching it on can never lock the firm's admin out of the admin pages.
        raise FieldError(
            "required",
            "Set up multi-factor authentication for your own account first (My Profile), "
            "then require it for everyone.",
        )
    if required == system.mfa_required and (not required or grace_days == system.mfa_grace_days):
        return 0
    in_system = User.__table__.c.system_id == system.id
    if required:
        system.mfa_required_since = system.mfa_required_since if system.mfa_required else now
        system.mfa_grace_days = grace_days
        deadline = max(now, system.mfa_required_since + timedelta(days=grace_days))
        affected = session.execute(
            sa.update(User).where(in_system, User.active_without_mfa).values(mfa_deadline=deadline)
        ).rowcount
    else:
        system.mfa_required_since = None
        session.execute(
            sa.update(User)
            .where(in_system, User.mfa_deadline.is_not(None))
            .values(mfa_deadline=None)
        )
        affected = 0
    system.mfa_required = required
    session.add(system)
    audit.record(
        session,
        Action.MFA_REQUIRED_CHANGED,
        actor=admin,
        system=system,
        required=required,
        grace_days=grace_days if required else None,
        users_with_deadline=affected,
    )
    return affected


def update_system_link(
    session: Session, *, admin: User, system: System, country: str, accounting: str
) -> None:
    """Change the system's country and accounting link (audited when changed)."""
    if country not in COUNTRIES:
        raise FieldError("country", "Choose a country from the list.")
    if accounting not in {link.value for link in AccountingLink}:
        raise FieldError("accounting", "Choose an accounting link.")
    diff = {
        field: [getattr(system, field), value]
        for field, value in (("country", country), ("accounting_link", accounting))
        if getattr(system, field) != value
    }
    if not diff:
        return
    system.country, system.accounting_link = country, accounting
    session.add(system)
    audit.record(
        session,
        Action.SYSTEM_UPDATED,
        actor=admin,
        system=system,
        changes=diff,
        compliance_required=system.compliance_required,
    )


def system_admins(session: Session, system_id: int) -> list[User]:
    """The system's active admins, by name (recipient choices for the heads-up)."""
    return list(
        session.exec(
            select(User)
            .where(
                User.system_id == system_id,
                User.active_admin,
            )
            .order_by(User.search_key)
        )
    )


def heads_up_rule(session: Session, system_id: int) -> HeadsUpRule:
    """The system's heads-up rule (created with the defaults if missing)."""
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == system_id)).first()
    if rule is None:
        rule = HeadsUpRule(system_id=system_id)
        session.add(rule)
        session.flush()
    return rule


@dataclass(frozen=True)
class HeadsUpSettings:
    enabled: bool
    kind: str
    hour: int
    recipient_ids: list[int] | None
    send_all_clear: bool


def update_heads_up(
    session: Session, *, admin: User, rule: HeadsUpRule, settings: HeadsUpSettings
) -> None:
    """Change the heads-up rule; recipients must be active admins of the system."""
    if settings.kind not in {kind.value for kind in HeadsUpKind}:
        raise FieldError("kind", "Choose which users the email reports.")
    if not 0 <= settings.hour <= 23:
        raise FieldError("hour", "Choose an hour from 0 to 23.")
    recipients = settings.recipient_ids
    if recipients is not None:
        allowed = {user.id for user in system_admins(session, rule.system_id)}
        if not recipients or not set(recipients) <= allowed:
            raise FieldError("admins", "Choose at least one of the system's admins.")
        recipients = sorted(set(recipients))
    values = {
        "enabled": settings.enabled,
        "kind": settings.kind,
        "hour": settings.hour,
        "recipient_ids": recipients,
        "send_all_clear": settings.send_all_clear,
    }
    diff = {
        field: [getattr(rule, field), value]
        for field, value in values.items()
        if getattr(rule, field) != value
    }
    if not diff:
        return
    for field, value in values.items():
        setattr(rule, field, value)
    session.add(rule)
    audit.record(session, Action.HEADS_UP_RULE_CHANGED, actor=admin, changes=diff)


def retention_in_words(days: int) -> str:
    """How long the audit log is kept, as the Security settings page says it."""
    if days and days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''} ({days:,} days)"
    return f"{days:,} day{'s' if days != 1 else ''}"
