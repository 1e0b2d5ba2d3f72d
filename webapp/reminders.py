"""Compliance reminders: users of NZ/AU firms with accounting linked who lack MFA.

Each active user without MFA gets a reminder at most once per interval
(`MFA_REMINDER_INTERVAL_DAYS`, a week by default). The users are picked and
stamped by one `UPDATE … RETURNING` per group of systems, so picking is atomic
and set-based; the body is the same for everyone in a system (it carries no
personal data but the system's name), so it is rendered once per system.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session

from webapp.models import User
from webapp.outbox import outbox_row, render_email

if TYPE_CHECKING:
    from collections.abc import Iterable


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
    first_day = local_date - interval + timedelta(days=1)
    return datetime.combine(first_day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def reminder_rows(
    session: Session, systems: Iterable[ReminderSystem], now: datetime, interval: timedelta
) -> tuple[list[dict], dict[int, int]]:
    """Stamp and return the reminders due in `systems`: (outbox rows, count per system).

    One UPDATE per (timezone, local date) group: the systems of one group
    share the cutoff.
    """
    groups: dict[tuple[str, date], list[ReminderSystem]] = defaultdict(list)
    for system in systems:
        groups[(system.timezone, system.local_date)].append(system)
    rows: list[dict] = []
    counts: dict[int, int] = defaultdict(int)
    for (timezone, local_date), group in groups.items():
        by_id = {system.system_id: system for system in group}
        cutoff = reminder_cutoff(local_date, timezone, interval)
        picked = session.execute(
            sa.update(User)
            .where(
                User.system_id.in_(list(by_id)),
                User.active,
                User.mfa_enabled.is_(False),
                sa.or_(User.last_mfa_reminder_at.is_(None), User.last_mfa_reminder_at < cutoff),
            )
            .values(last_mfa_reminder_at=now)
            .returning(User.id, User.email, User.system_id)
            .execution_options(synchronize_session=False)
        )
        bodies: dict[int, tuple[str, tuple[str, str]]] = {}
        for user_id, email, system_id in picked:
            system = by_id[system_id]
            if system_id not in bodies:
                bodies[system_id] = render_reminder(system.name)
            subject, body = bodies[system_id]
            rows.append(
                outbox_row(
                    kind="reminder",
                    recipient=email,
                    subject=subject,
                    body=body,
                    dedupe_key=f"reminder:{user_id}:{local_date}",
                    system_id=system_id,
                    run_date=local_date,
                    now=now,
                )
            )
            counts[system_id] += 1
    return rows, dict(counts)


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
