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

from webapp import timefmt
from webapp.models import User
from webapp.outbox import SystemEmail, insert_per_user, render_email
from webapp.sso.policy import active_without_mfa_by_firm


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
        system_ids = [system.system_id for system in group]
        cutoff = reminder_cutoff(local_date, timezone, interval)
        # Single sign-on counts here only with the provider's word for MFA.
        without_mfa = active_without_mfa_by_firm(compliance=True)
        session.execute(
            sa.update(User)
            .where(
                User.system_id.in_(system_ids),
                without_mfa,
                sa.or_(User.last_mfa_reminder_at.is_(None), User.last_mfa_reminder_at < cutoff),
            )
            .values(last_mfa_reminder_at=now)
            .execution_options(synchronize_session=False)
        )
        emails = {
            system.system_id: SystemEmail(
                *render_reminder(system.name), local_date, "reminder:", f":{local_date}"
            )
            for system in group
        }
        # Exactly the users stamped above: the run is claimed for this system
        # and date, so nothing else stamps them with this instant.
        inserted = insert_per_user(
            session,
            kind="reminder",
            now=now,
            emails=emails,
            where=sa.and_(without_mfa, User.last_mfa_reminder_at == now),
        )
        ids.extend(outbox_id for outbox_id, _ in inserted)
        counts.update(system_id for _, system_id in inserted)
    return ids, counts


def render_reminder(system_name: str) -> tuple[str, tuple[str, str]]:
    """The reminder's subject and (text, html) body for a system's users."""
    subject = f"Please set up multi-factor authentication for {system_name}"
    base_url = current_app.config["BASE_URL"].rstrip("/")
    return subject, render_email(
        "reminder",
        subject=subject,
        system_name=system_name,
        profile_url=f"{base_url}/profile",
        interval_days=current_app.config["MFA_REMINDER_INTERVAL_DAYS"],
    )
