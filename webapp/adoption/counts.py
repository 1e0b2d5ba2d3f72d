"""What the adoption panel and the daily snapshots count, defined once.

Every measure is a condition on a user row. The daily run sums them per firm
for a whole batch of firms in one GROUP BY (each firm by its own sign-in
rules); the panel counts them for one firm in one statement of index range
counts (README, "Adoption panel").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from webapp.models import User
from webapp.sso import policy


@dataclass
class FirmCounts:
    """A firm's active users, by MFA state and method, at one moment."""

    active_users: int = 0
    with_mfa: int = 0
    with_app: int = 0
    with_passkey: int = 0
    with_sso: int = 0
    without_mfa: int = 0
    past_deadline: int = 0
    locked_out: int = 0
    # Without MFA and not reminded since the start of the firm's local day.
    remindable: int = 0

    @property
    def adoption_percent(self) -> int:
        """Share of active users with MFA, rounded down (100 when there are none)."""
        if not self.active_users:
            return 100
        return self.with_mfa * 100 // self.active_users


SNAPSHOT_MEASURES = (
    "active_users",
    "with_mfa",
    "with_app",
    "with_passkey",
    "with_sso",
    "without_mfa",
    "past_deadline",
)


def measures(
    now: datetime, *, counts_sso: bool | None, reminded_since: datetime | None = None
) -> dict[str, sa.ColumnElement[bool] | None]:
    """Each measure's condition on an active user (None: always 0).

    `counts_sso` is the one firm's rule (the panel), or None for many firms
    at once, each by its own rule (the daily run).
    """
    if counts_sso is None:
        with_mfa = sa.or_(User.mfa_enabled == sa.true(), policy.sso_counted_in_own_firm())
        without_mfa = sa.not_(with_mfa)
        sso = policy.sso_counted_in_own_firm()
    else:
        with_mfa, without_mfa = policy.with_mfa(counts_sso), policy.without_mfa(counts_sso)
        sso = policy.signed_in_with_sso() if counts_sso else None
    result: dict[str, sa.ColumnElement[bool] | None] = {
        "active_users": sa.true(),
        "with_mfa": with_mfa,
        # Methods overlap: a user with the app and a passkey counts in both.
        "with_app": User.mfa_app == sa.true(),
        "with_passkey": User.passkey_count > sa.literal_column("0"),
        "with_sso": sso,
        "without_mfa": without_mfa,
        "past_deadline": sa.and_(without_mfa, User.mfa_deadline <= now),
        "locked_out": User.mfa_locked_until > now,
    }
    if reminded_since is not None:
        result["remindable"] = sa.and_(
            without_mfa,
            sa.or_(User.last_mfa_reminder_at.is_(None), User.last_mfa_reminder_at < reminded_since),
        )
    return result


def firm_counts(
    session: Session,
    system_id: int,
    now: datetime,
    *,
    counts_sso: bool,
    reminded_since: datetime,
) -> FirmCounts:
    """One firm's counts now: one statement, each measure a range count on an
    index of the users table (`ix_users_system_counts`, `_enrolment`, `_locked`)."""
    active = sa.and_(User.system_id == system_id, User.active == sa.true())
    columns = []
    for name, condition in measures(
        now, counts_sso=counts_sso, reminded_since=reminded_since
    ).items():
        if condition is None:
            columns.append(sa.literal(0).label(name))
            continue
        count = sa.select(sa.func.count()).select_from(User).where(active, condition)
        columns.append(count.scalar_subquery().label(name))
    row = session.execute(sa.select(*columns)).one()
    return FirmCounts(**row._mapping)


def counts_by_firm(session: Session, system_ids: list[int], now: datetime) -> dict[int, FirmCounts]:
    """The snapshot measures of many firms: one GROUP BY over their active
    users (statements flat in users). Firms without active users get zeros."""
    result = {system_id: FirmCounts() for system_id in system_ids}
    if not system_ids:
        return result
    chosen = measures(now, counts_sso=None)
    sums = [
        (
            sa.func.count()
            if name == "active_users"
            else sa.func.sum(sa.case((chosen[name], 1), else_=0))
            if chosen[name] is not None
            else sa.literal(0)
        ).label(name)
        for name in SNAPSHOT_MEASURES
    ]
    query = (
        sa.select(User.system_id, *sums)
        .where(User.system_id.in_(system_ids), User.active == sa.true())
        .group_by(User.system_id)
    )
    for row in session.execute(query):
        values = row._mapping
        result[row.system_id] = FirmCounts(
            **{name: int(values[name] or 0) for name in SNAPSHOT_MEASURES}
        )
    return result


def snapshot_values(counts: FirmCounts) -> dict[str, int]:
    """The columns of a snapshot row that `counts` fills."""
    return {name: getattr(counts, name) for name in SNAPSHOT_MEASURES}
