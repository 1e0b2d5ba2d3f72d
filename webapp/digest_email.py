"""The heads-up digest as an email: its subject and bodies (rendered once per
system), and the figures each digest keeps on its rule so that the next one can
say what changed since (README, "Background jobs")."""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple, Protocol

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session

from webapp import timefmt
from webapp.models import HeadsUpKind, HeadsUpRule
from webapp.outbox import render_email

# The admin users list, filtered (the admin area's query parameters).
ADMIN_LIST_FILTER = {HeadsUpKind.WITHOUT_MFA.value: "mfa=off", HeadsUpKind.WITH_MFA.value: "mfa=on"}


class PreviousDigest(NamedTuple):
    """What the system's previous digest reported (kept on its rule)."""

    local_date: date
    total: int
    with_mfa: int


class ListedUser(NamedTuple):
    """A user in a digest's list (a tuple: templates read its fields fast)."""

    name: str
    email: str
    last_sign_in: str | None  # the firm's local date, or None for never


class DigestRun(Protocol):
    """What a digest needs to know of its system's run (`heads_up.SystemRun`)."""

    system_id: int
    name: str
    kind: str
    local_date: date
    compliance: bool
    reminders_sent: int | None
    previous: PreviousDigest | None
    total: int
    with_mfa: int
    listed_total: int
    listed: list[ListedUser]


def local_day(moment: datetime | None, timezone: str) -> str | None:
    return timefmt.firm_time(moment, timezone, timefmt.DATE) if moment else None


def render_digest(run: DigestRun) -> tuple[str, tuple[str, str]]:
    """The digest's subject and (text, html) body for one system's run."""
    with_mfa = run.kind == HeadsUpKind.WITH_MFA.value
    adopted = run.listed_total if with_mfa else run.total - run.listed_total
    if run.listed_total == 0:
        subject = f"All clear: every user of {run.name} has MFA"
        if with_mfa:
            subject = f"Heads up: no user of {run.name} has MFA yet"
    elif with_mfa:
        subject = f"Heads up: {run.listed_total} of {run.total} users of {run.name} have MFA"
    else:
        subject = f"Heads up: {run.listed_total} of {run.total} users of {run.name} lack MFA"
    base_url = current_app.config["BASE_URL"].rstrip("/")
    body = render_email(
        "heads_up",
        subject=subject,
        system_name=run.name,
        with_mfa=with_mfa,
        listed=run.listed,
        listed_total=run.listed_total,
        more=run.listed_total - len(run.listed),
        total=run.total,
        adoption=round(100 * adopted / run.total),
        # The list, filtered, under the adoption panel (its trend and reminders).
        list_url=f"{base_url}/admin/users?{ADMIN_LIST_FILTER[run.kind]}#adoption",
        compliance=run.compliance,
        reminders_sent=run.reminders_sent,
        local_date=run.local_date,
        change=change_since_previous(run),
    )
    return subject, body


def remember_counts(session: Session, runs: list[DigestRun]) -> None:
    """Keep on each rule what its digest reports, in one UPDATE for the batch."""
    if not runs:
        return

    def per_system(value, type_):
        return sa.case(
            {run.system_id: sa.literal(value(run), type_) for run in runs},
            value=HeadsUpRule.system_id,
        )

    session.execute(
        sa.update(HeadsUpRule)
        .where(HeadsUpRule.system_id.in_([run.system_id for run in runs]))
        .values(
            last_digest_on=per_system(lambda run: run.local_date, sa.Date),
            last_digest_total=per_system(lambda run: run.total, sa.Integer),
            last_digest_with_mfa=per_system(lambda run: run.with_mfa, sa.Integer),
        )
        .execution_options(synchronize_session=False)
    )


def change_since_previous(run: DigestRun) -> dict | None:
    """How many more (or fewer) users the digest lists than the previous one did."""
    previous = run.previous
    if previous is None:
        return None
    if run.kind == HeadsUpKind.WITH_MFA.value:
        listed_before = previous.with_mfa
    else:
        listed_before = previous.total - previous.with_mfa
    return {
        "delta": run.listed_total - listed_before,
        "since": previous.local_date.strftime(timefmt.DATE),
    }
