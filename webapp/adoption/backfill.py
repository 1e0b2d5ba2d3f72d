"""The days before a firm's first snapshot, replayed from the audit log.

A firm's first daily snapshot is counted from its users as they are now. The
days before it (up to the chart's 90) are found by walking back from those
counts through what changed since, newest first: each app set up, each
passkey added or removed, each MFA turned off or reset (with the methods it
removed) and each (de)activation in the audit log, each user's first single
sign-on in it, and each user's creation. A day's counts are today's minus
the effect of everything after that day ended. Where the log cannot tell, the
day stays without a snapshot ("no data"): before the firm existed, and before
the audit log's retention horizon (`AUDIT_RETENTION_DAYS`, when set).

Statements are flat in users: the firms' creation dates, the relevant events
and the users they concern (their current state), whatever the firm's size.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session

from webapp import timefmt
from webapp.adoption.counts import FirmCounts
from webapp.adoption.snapshots import CHART_DAYS, FirmDay, insert_snapshots
from webapp.audit import Action
from webapp.models import AuditEvent, SnapshotSource, System, User
from webapp.sso.policy import sso_counted_in_own_firm

# MFA turned off: what it removed (events older than passkeys name nothing: the app).
TURNED_OFF = (Action.MFA_DISABLED.value, Action.MFA_RESET_BY_ADMIN.value)
# A passkey added or removed: the change to the user's count, undone.
PASSKEY_UNDO = {Action.PASSKEY_ADDED.value: -1, Action.PASSKEY_REMOVED.value: +1}
REPLAYED = (
    Action.MFA_ENABLED.value,
    *TURNED_OFF,
    *PASSKEY_UNDO,
    Action.USER_UPDATED.value,
    Action.SSO_SIGN_IN.value,
)


@dataclass
class UserState:
    exists: bool = True
    active: bool = True
    app: bool = False
    passkeys: int = 0
    sso: bool = False

    def counted(self) -> tuple[int, int, int, int, int]:
        """(active user, with MFA, with the app, with a passkey, with single
        sign-on) as 0 or 1."""
        if not (self.exists and self.active):
            return (0, 0, 0, 0, 0)
        passkey = self.passkeys > 0
        return (
            1,
            int(self.app or passkey or self.sso),
            int(self.app),
            int(passkey),
            int(self.sso),
        )


@dataclass(frozen=True)
class Change:
    at: datetime
    user_id: int
    flag: str
    before: bool | int
    # `before` is added to the value (a passkey count), not put in its place.
    relative: bool = False

    def undo(self, state: UserState) -> None:
        value = getattr(state, self.flag) + self.before if self.relative else self.before
        setattr(state, self.flag, value)


def undone(event) -> list[tuple[str, bool | int, bool]]:
    """An MFA event's (flag, value before, relative) changes, for the replay."""
    details = event.details or {}
    if event.action == Action.MFA_ENABLED.value:
        # A first passkey turns MFA on too: its "passkey added" is the change.
        return [] if details.get("method") == "passkey" else [("app", False, False)]
    if event.action in TURNED_OFF:
        return [
            ("app", bool(details.get("had_app", True)), False),
            ("passkeys", int(details.get("had_passkeys", 0)), False),
        ]
    return [("passkeys", PASSKEY_UNDO[event.action], True)]


def first_day(run: FirmDay, created: datetime, now: datetime) -> date:
    """The earliest local date the log can tell for this firm."""
    days = [
        run.local_date - timedelta(days=CHART_DAYS - 1),
        timefmt.local_time(run.timezone, created).date(),
    ]
    retention = current_app.config.get("AUDIT_RETENTION_DAYS")
    if retention:
        # The first whole local day the retained log covers.
        horizon = timefmt.local_time(run.timezone, now - timedelta(days=retention)).date()
        days.append(horizon + timedelta(days=1))
    return max(days)


def backfill(
    session: Session, runs: list[FirmDay], counts: dict[int, FirmCounts], now: datetime
) -> int:
    """Write the days before each run's date that the audit log can tell, from
    the counts of the run (`counts`, as of `now`). Returns the rows written."""
    if not runs:
        return 0
    ids = [run.system_id for run in runs]
    created = dict(
        session.execute(sa.select(System.id, System.created_at).where(System.id.in_(ids))).all()
    )
    windows = {run.system_id: (first_day(run, created[run.system_id], now), run) for run in runs}
    # A firm created today (or a log that keeps nothing older) has no day to replay.
    windows = {key: (first, run) for key, (first, run) in windows.items() if first < run.local_date}
    if not windows:
        return 0
    start = min(timefmt.local_midnight(run.timezone, first) for first, run in windows.values())
    changes, firm_of = _changes(session, list(windows), start)
    rows = []
    for system_id, (first, run) in windows.items():
        rows.extend(_replay(run, first, counts[system_id], changes[system_id], firm_of, now))
    insert_snapshots(session, rows)
    return len(rows)


def _changes(session: Session, ids: list[int], start: datetime):
    """Per firm, every change since `start` (newest first), and each changed
    user's state now (two queries)."""
    relevant = (
        AuditEvent.system_id.in_(ids),
        AuditEvent.created_at >= start,
        AuditEvent.action.in_(REPLAYED),
        AuditEvent.subject_id.is_not(None),
    )
    events = session.execute(
        sa.select(
            AuditEvent.subject_id, AuditEvent.action, AuditEvent.details, AuditEvent.created_at
        )
        .where(*relevant)
        .order_by(AuditEvent.created_at)
    ).all()
    users = session.execute(
        sa.select(
            User.id,
            User.system_id,
            User.active,
            User.mfa_app,
            User.passkey_count,
            User.created_at,
            sso_counted_in_own_firm().label("sso"),
        ).where(
            User.system_id.in_(ids),
            sa.or_(
                User.created_at >= start,
                User.id.in_(sa.select(AuditEvent.subject_id).where(*relevant)),
            ),
        )
    ).all()
    states = {
        user.id: UserState(True, user.active, user.mfa_app, user.passkey_count, bool(user.sso))
        for user in users
    }
    firm_of = {user.id: user.system_id for user in users}
    found: list[Change] = [
        Change(user.created_at, user.id, "exists", False)
        for user in users
        if user.created_at >= start
    ]
    first_sso: set[int] = set()
    for event in events:  # oldest first
        if event.subject_id not in states:
            continue
        if event.action in (Action.MFA_ENABLED.value, *TURNED_OFF, *PASSKEY_UNDO):
            found.extend(
                Change(event.created_at, event.subject_id, flag, before, relative)
                for flag, before, relative in undone(event)
            )
        elif event.action == Action.USER_UPDATED.value:
            active = (event.details or {}).get("changes", {}).get("active")
            if active:
                found.append(Change(event.created_at, event.subject_id, "active", bool(active[0])))
        elif states[event.subject_id].sso and event.subject_id not in first_sso:
            # Counted through single sign-on now: not before their first one in the log.
            first_sso.add(event.subject_id)
            found.append(Change(event.created_at, event.subject_id, "sso", False))
    by_firm: dict[int, list[Change]] = defaultdict(list)
    for change in sorted(found, key=lambda change: change.at, reverse=True):
        by_firm[firm_of[change.user_id]].append(change)
    return by_firm, states


def _replay(run, first: date, now_counts: FirmCounts, changes: list[Change], states, now):
    """The snapshot rows of `first` … the day before `run.local_date`, newest first."""
    totals = [
        now_counts.active_users,
        now_counts.with_mfa,
        now_counts.with_app,
        now_counts.with_passkey,
        now_counts.with_sso,
    ]
    states = {change.user_id: UserState(**vars(states[change.user_id])) for change in changes}
    pending = iter(changes)
    change = next(pending, None)
    rows = []
    day = run.local_date - timedelta(days=1)
    while day >= first:
        day_end = timefmt.local_midnight(run.timezone, day + timedelta(days=1))
        while change is not None and change.at >= day_end:
            state = states[change.user_id]
            before = state.counted()
            change.undo(state)
            after = state.counted()
            totals = [
                total - was + then for total, was, then in zip(totals, before, after, strict=True)
            ]
            change = next(pending, None)
        active, with_mfa, with_app, with_passkey, with_sso = totals
        rows.append(
            {
                "system_id": run.system_id,
                "local_date": day,
                "active_users": active,
                "with_mfa": with_mfa,
                "with_app": with_app,
                "with_passkey": with_passkey,
                "with_sso": with_sso,
                "without_mfa": active - with_mfa,
                "past_deadline": None,
                "source": SnapshotSource.AUDIT_LOG.value,
                "created_at": now,
            }
        )
        day -= timedelta(days=1)
    return rows
