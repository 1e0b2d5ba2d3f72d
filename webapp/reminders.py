"""Compliance reminders: users of NZ/AU firms with accounting linked who lack MFA.

Each active user without MFA gets a reminder at most once per interval
(`MFA_REMINDER_INTERVAL_DAYS`, a week by default). Per group of systems one
UPDATE stamps the users who are due and one INSERT … SELECT queues their
emails, so the work is set-based whatever the number of users. The body is
the same for everyone in a system (it names the system, nothing personal), so
it is rendered once per system.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session

from webapp import audit, timefmt
from webapp.audit import Action
from webapp.models import System, User
from webapp.outbox import SystemEmail, insert_per_user, render_email
from webapp.sso.policy import active_without_mfa_by_firm, without_mfa


class ReminderSystem(Protocol):
    system_id: int
    name: str
    timezone: str
    local_date: date


def reminder_cutoff(local_date: date, timezone: str, interval: timedelta) -> datetime:
    """Users last reminded before this instant are due again.

    Counted in local days: reminded on a Monday with a 7-day interval means
    due again from the next Monday, whatever the time of that day's run.
    """
    return timefmt.local_midnight(timezone, local_date - interval + timedelta(days=1))


def queue_reminders(
    session: Session, systems: Iterable[ReminderSystem], now: datetime, interval: timedelta
) -> tuple[list[int], Counter]:
    """Queue the reminders due in `systems` (the caller commits).

    Returns the new outbox ids and the number of reminders per system id.
    Systems sharing a timezone and local date share a cutoff, so each such
    group costs two statements.
    """
    groups: dict[tuple[str, date], list[ReminderSystem]] = defaultdict(list)
    for system in systems:
        groups[(system.timezone, system.local_date)].append(system)
    ids: list[int] = []
    counts: Counter = Counter()
    for (timezone, local_date), group in groups.items():
        emails = {
            system.system_id: SystemEmail(
                *render_reminder(system.name), local_date, "reminder:", f":{local_date}"
            )
            for system in group
        }
        # Single sign-on counts here only with the provider's word for MFA.
        inserted = stamp_and_queue(
            session,
            emails,
            who=active_without_mfa_by_firm(compliance=True),
            cutoff=reminder_cutoff(local_date, timezone, interval),
            now=now,
        )
        ids.extend(outbox_id for outbox_id, _ in inserted)
        counts.update(system_id for _, system_id in inserted)
    return ids, counts


def stamp_and_queue(
    session: Session, emails: dict[int, SystemEmail], *, who, cutoff: datetime, now: datetime
) -> list[tuple[int, int]]:
    """Remind the users of `emails`' systems matched by `who` and not reminded
    since `cutoff`: one UPDATE stamps them with `now`, one INSERT … SELECT
    queues their emails. Returns (outbox id, system id) of the emails queued.

    Of two runs at once (the daily run and an admin's click, two admins'
    clicks) each user is stamped by one only: the UPDATE's condition is
    checked again on the row it waits for. The outbox's dedupe key
    (`reminder:{user}:{local date}`) keeps it to one email a local day anyway.
    """
    session.execute(
        sa.update(User)
        .where(
            User.system_id.in_(list(emails)),
            who,
            sa.or_(User.last_mfa_reminder_at.is_(None), User.last_mfa_reminder_at < cutoff),
        )
        .values(last_mfa_reminder_at=now)
        .execution_options(synchronize_session=False)
    )
    # Exactly the users stamped above: nothing else stamps them with this instant.
    return insert_per_user(
        session,
        kind="reminder",
        now=now,
        emails=emails,
        where=sa.and_(who, User.last_mfa_reminder_at == now),
    )


def remind_now(
    session: Session,
    *,
    admin: User,
    system: System,
    now: datetime,
    counts_sso: bool,
    user: User | None = None,
) -> int:
    """An admin's reminder, at once: to `user`, or to every active user of the
    firm without MFA (by its sign-in rules), skipping whoever was reminded
    since the start of the firm's local day. Audited with the admin; returns
    how many were emailed."""
    local_date = timefmt.local_time(system.timezone, now).date()
    subject, body = render_reminder(
        system.name, compliance=system.compliance_required, requested_by=admin.display_name
    )
    who = sa.and_(User.active == sa.true(), without_mfa(counts_sso))
    if user is not None:
        who = sa.and_(who, User.id == user.id)
    inserted = stamp_and_queue(
        session,
        {system.id: SystemEmail(subject, body, local_date, "reminder:", f":{local_date}")},
        who=who,
        cutoff=timefmt.local_midnight(system.timezone, local_date),
        now=now,
    )
    if inserted and user is not None:
        audit.record(session, Action.MFA_REMINDER_SENT, actor=admin, subject=user)
    elif inserted:
        audit.record(
            session, Action.MFA_REMINDERS_SENT, actor=admin, system=system, users=len(inserted)
        )
    return len(inserted)


def render_reminder(
    system_name: str, *, compliance: bool = True, requested_by: str | None = None
) -> tuple[str, tuple[str, str]]:
    """The reminder's subject and (text, html) body for a system's users (the
    daily compliance reminder, or an admin's, `requested_by`)."""
    subject = f"Please set up multi-factor authentication for {system_name}"
    base_url = current_app.config["BASE_URL"].rstrip("/")
    return subject, render_email(
        "reminder",
        subject=subject,
        system_name=system_name,
        profile_url=f"{base_url}/profile",
        interval_days=current_app.config["MFA_REMINDER_INTERVAL_DAYS"],
        compliance=compliance,
        requested_by=requested_by,
    )
