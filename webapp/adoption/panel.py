"""The adoption panel of Users & permissions: today's counts (the tiles) and
the last 90 days (the chart and its table), for one firm.

Two statements: the live counts (`counts.firm_counts`, index range counts)
and the firm's snapshots of the chart's days (a primary-key range). Today is
the live counts, so an enrolment shows at once; the days before are the
snapshots; a day with neither is "no data".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from markupsafe import Markup
from sqlmodel import Session

from webapp import timefmt
from webapp.adoption import chart
from webapp.adoption.counts import FirmCounts, firm_counts
from webapp.adoption.snapshots import CHART_DAYS, recent
from webapp.models import System

DAY_LABEL = "%-d %b"  # 3 Oct
# Every so many days a date is written under the chart's axis.
LABEL_EVERY = 15

# The chart's lines: label, CSS name, the count on a day. The methods are drawn
# only when more than one is in use (with one, its line is "With MFA" again).
ACTIVE_LINE = ("Active users", "active", "active_users")
MFA_LINE = ("With MFA", "mfa", "with_mfa")
METHOD_LINES = (
    ("Authenticator app", "app", "with_app"),
    ("Passkey", "passkey", "with_passkey"),
    ("SSO", "sso", "with_sso"),
)


@dataclass(frozen=True)
class Day:
    """One day of the chart: a snapshot, today's live counts, or no data (None)."""

    day: date
    counts: FirmCounts | None

    @property
    def label(self) -> str:
        return self.day.strftime(DAY_LABEL)


@dataclass(frozen=True)
class Panel:
    counts: FirmCounts
    days: list[Day]  # the chart's days, oldest first
    lines: tuple[tuple[str, str, str], ...]
    first_data: date | None  # the first day with data (None: none at all)
    required_on: date | None  # enforcement switched on (local date), if it is on
    deadline_on: date | None  # its enrolment deadline (local date)
    description: str = ""  # the chart in words
    svg: Markup = Markup()

    @property
    def rows(self) -> list[Day]:
        """The table's rows: the days with data, newest first."""
        return [day for day in reversed(self.days) if day.counts is not None]


def adoption_panel(session: Session, system: System, now: datetime, *, counts_sso: bool) -> Panel:
    today = timefmt.local_time(system.timezone, now).date()
    counts = firm_counts(
        session,
        system.id,
        now,
        counts_sso=counts_sso,
        reminded_since=timefmt.local_midnight(system.timezone, today),
    )
    stored = recent(session, system.id, today)
    days = []
    for offset in range(CHART_DAYS - 1, 0, -1):
        day = today - timedelta(days=offset)
        snapshot = stored.get(day)
        days.append(Day(day, _counts_of(snapshot) if snapshot else None))
    days.append(Day(today, counts))
    with_data = [day for day in days if day.counts is not None]
    lines = (ACTIVE_LINE, MFA_LINE)
    in_use = [line for line in METHOD_LINES if any(getattr(d.counts, line[2]) for d in with_data)]
    if len(in_use) > 1:
        lines = (*lines, *in_use)
    required_on = deadline_on = None
    if system.mfa_required and system.mfa_required_since:
        since = system.mfa_required_since
        required_on = timefmt.local_time(system.timezone, since).date()
        deadline = since + timedelta(days=system.mfa_grace_days)
        deadline_on = timefmt.local_time(system.timezone, deadline).date()
    panel = Panel(
        counts=counts,
        days=days,
        lines=lines,
        first_data=with_data[0].day if with_data else None,
        required_on=required_on,
        deadline_on=deadline_on,
    )
    return _with_svg(replace(panel, description=description(panel)))


def _counts_of(snapshot) -> FirmCounts:
    return FirmCounts(
        active_users=snapshot.active_users,
        with_mfa=snapshot.with_mfa,
        with_app=snapshot.with_app,
        with_passkey=snapshot.with_passkey,
        with_sso=snapshot.with_sso,
        without_mfa=snapshot.without_mfa,
        past_deadline=snapshot.past_deadline or 0,
    )


def markers(panel: Panel) -> dict[date, str]:
    """The days the chart marks, with the label written under them."""
    marked = {}
    if panel.required_on is not None:
        marked[panel.required_on] = "MFA required"
    if panel.deadline_on is not None and panel.deadline_on != panel.required_on:
        marked[panel.deadline_on] = "Deadline"
    first = panel.days[0].day
    return {day: label for day, label in marked.items() if first <= day <= panel.days[-1].day}


def description(panel: Panel) -> str:
    """The chart in words (its SVG description and the figure's caption)."""
    today = panel.days[-1]
    now = today.counts
    parts = [f"Today {now.with_mfa:,} of {now.active_users:,} active users have MFA"]
    parts[0] += f" ({now.adoption_percent}%)."
    earliest = next((day for day in panel.days if day.counts is not None), None)
    if earliest is not None and earliest is not today:
        then = earliest.counts
        parts.append(
            f"On {earliest.day.strftime(timefmt.DATE)}: {then.with_mfa:,} of "
            f"{then.active_users:,} ({then.adoption_percent}%)."
        )
    if panel.first_data is not None and panel.first_data > panel.days[0].day:
        parts.append(f"No data before {panel.first_data.strftime(timefmt.DATE)}.")
    if panel.required_on is not None:
        parts.append(
            f"MFA required for all users since {panel.required_on.strftime(timefmt.DATE)}, "
            f"deadline {panel.deadline_on.strftime(timefmt.DATE)}."
        )
    return " ".join(parts)


def _with_svg(panel: Panel) -> Panel:
    marked = markers(panel)
    labels = tuple(marked.get(day.day, day.label) for day in panel.days)
    # Dates every LABEL_EVERY days back from today, except next to a marked day.
    regular = {
        index
        for index in range(len(panel.days) - 1, -1, -LABEL_EVERY)
        if all(abs((panel.days[index].day - day).days) > LABEL_EVERY // 2 for day in marked)
    }
    major = tuple(labels[index] for index in sorted(regular)) + tuple(marked.values())
    drawing = chart.Drawing(
        title="Users with MFA, last 90 days",
        description=panel.description,
        labels=labels,
        major=major,
        markers=tuple(marked.values()),
        lines=tuple(
            chart.Line(
                label,
                name,
                tuple(getattr(day.counts, field) if day.counts else None for day in panel.days),
            )
            for label, name, field in panel.lines
        ),
        top=max([day.counts.active_users for day in panel.days if day.counts] + [1]),
    )
    return replace(panel, svg=chart.draw(drawing))
