"""Times as a firm's people read them: on the firm's own clock, the zone named.

Timestamps are stored in UTC; a person in Auckland reads "14:05 NZDT", not
"01:05 UTC". Pages use the signed-in (or signing-in) user's firm; emails get
the recipient's firm's timezone in their context (`outbox.queue_email`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from webapp.models import System

DATE_TIME = "%H:%M %Z on %-d %b %Y"  # 14:05 NZDT on 28 Nov 2026
DATE = "%-d %b %Y"  # 28 Nov 2026
# The filter's styles, for templates.
STYLES = {
    "date_time": DATE_TIME,
    "date": DATE,
    "time": "%H:%M %Z",  # 14:05 NZDT
    "table": "%Y-%m-%d %H:%M %Z",  # 2026-11-28 14:05 NZDT, sortable by eye
    "table_seconds": "%Y-%m-%d %H:%M:%S %Z",
}


def local_time(timezone: str, moment: datetime) -> datetime:
    """`moment` (aware) as the wall-clock time of `timezone`."""
    return moment.astimezone(ZoneInfo(timezone))


def local_midnight(timezone: str, day: date) -> datetime:
    """The instant (UTC) the local date `day` begins in `timezone`."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def days_ago_in_words(moment: datetime, now: datetime, timezone: str) -> str:
    """How many of the firm's local days ago `moment` was: "today", "yesterday",
    "2 days ago" (calendar days on the firm's clock, not periods of 24 hours)."""
    days = (local_time(timezone, now).date() - local_time(timezone, moment).date()).days
    if days <= 0:
        return "today"
    return "yesterday" if days == 1 else f"{days} days ago"


def firm_time(moment: datetime, timezone: str, fmt: str = DATE_TIME) -> str:
    """`moment` (aware) on the wall clock of `timezone`, formatted with `fmt`."""
    return local_time(timezone, moment).strftime(fmt)


def duration_in_words(delta: timedelta) -> str:
    """A wait as a person says it, rounded up to the minute: "1 minute",
    "2 hours 5 minutes" (never "0 minutes")."""
    minutes = max(1, -(-int(delta.total_seconds()) // 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def wait_in_words(now: datetime, until: datetime, timezone: str) -> str:
    """ "in 2 minutes, at 08:41 NZDT" (the date too when `until` is another local day)."""
    local_until, local_now = local_time(timezone, until), local_time(timezone, now)
    fmt = STYLES["time"] if local_until.date() == local_now.date() else DATE_TIME
    return f"in {duration_in_words(until - now)}, at {local_until.strftime(fmt)}"


def timezone_of(session: Session, system_id: int) -> str:
    """The IANA timezone of the firm `system_id`."""
    return session.get(System, system_id).timezone


def _current_timezone() -> str:
    # Imported here: the auth package imports this module.
    from webapp.auth.sessions import current_system

    return current_system().timezone


def firm_time_filter(
    moment: datetime | None, timezone: str | None = None, style: str = "date_time"
) -> str:
    """Jinja's `firm_time`: in `timezone`, else the signed-in user's firm's; a STYLES key."""
    if moment is None:
        return ""
    return firm_time(moment, timezone or _current_timezone(), STYLES[style])


def days_ago_filter(moment: datetime, now: datetime | None = None) -> str:
    """Jinja's `days_ago`: `days_ago_in_words` on the signed-in user's firm's clock
    (`now` by default: a list passes its one `now` to every row)."""
    return days_ago_in_words(moment, now or datetime.now(UTC), _current_timezone())
