"""The daily heads-up digest to each system's admins (README, "Background jobs").

A system is *due* when its local time (its IANA timezone) has reached its
rule's hour and the rule has not run for that local date. A run is claimed
with a conditional UPDATE of `last_run_local_date` in the same transaction
that writes the outbox rows, so two beats never both run it, a worker that
dies mid-run leaves it unclaimed, and a missed tick catches up.

Everything is set-based: a batch of systems costs a fixed handful of
statements (the claim, user counts, the listed users, the reminder stamp and
one INSERT … SELECT per email kind), whatever the number of users.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from webapp import digest_email, reminders, timefmt
from webapp.adoption import backfill, snapshots
from webapp.adoption import counts as adoption_counts
from webapp.models import (
    HeadsUpKind,
    HeadsUpRule,
    System,
    User,
)
from webapp.outbox import SystemEmail, insert_per_user
from webapp.sso.policy import active_with_mfa_by_firm, active_without_mfa_by_firm

log = logging.getLogger(__name__)

LIST_CAP = 50
# Systems handled per transaction (and per task): enough to amortise each
# query, few enough that one batch's rendered emails stay small in memory.
BATCH_SIZE = 500


def is_due(local: datetime, hour: int, last_run: date | None) -> bool:
    """Due once the local hour is reached, once per local date.

    On a spring-forward day a skipped hour still counts as reached (the clock
    jumps past it); on a fall-back day the repeated hour finds the date
    already claimed.
    """
    return local.hour >= hour and (last_run is None or last_run < local.date())


@dataclass
class SystemRun:
    """One system's run: what the digest needs to know about the system and its rule."""

    system_id: int
    name: str
    timezone: str
    compliance: bool
    local_date: date
    enabled: bool
    kind: str
    recipient_ids: list[int] | None
    send_all_clear: bool
    dedupe_suffix: str = ""
    reminders_sent: int | None = None
    previous: digest_email.PreviousDigest | None = None
    # Filled by `build_digests`.
    total: int = 0
    with_mfa: int = 0
    listed_total: int = 0
    listed: list[digest_email.ListedUser] = field(default_factory=list)


@dataclass
class RunSummary:
    """What a run did: systems run, emails queued, and the new outbox ids."""

    systems: int = 0
    digests: int = 0
    reminders: int = 0
    outbox_ids: list[int] = field(default_factory=list)

    def add(self, other: RunSummary) -> None:
        self.systems += other.systems
        self.digests += other.digests
        self.reminders += other.reminders
        self.outbox_ids.extend(other.outbox_ids)


def _rule_rows(session: Session, where) -> Iterator[sa.Row]:
    query = (
        sa.select(
            System.id,
            System.name,
            System.timezone,
            System.compliance_required.label("compliance"),
            HeadsUpRule.enabled,
            HeadsUpRule.kind,
            HeadsUpRule.hour,
            HeadsUpRule.recipient_ids,
            HeadsUpRule.send_all_clear,
            HeadsUpRule.last_run_local_date,
            HeadsUpRule.last_digest_on,
            HeadsUpRule.last_digest_total,
            HeadsUpRule.last_digest_with_mfa,
        )
        .join(HeadsUpRule, HeadsUpRule.system_id == System.id)
        .where(*where)
    )
    return iter(session.execute(query))


def _runs(
    session: Session,
    now: datetime,
    where,
    *,
    ignore_hour: bool = False,
    include_ran: bool = False,
) -> list[SystemRun]:
    """The systems matching `where` that are due (or, with the flags, before their
    hour, or even when they already ran today)."""
    runs = []
    for row in _rule_rows(session, where):
        local = timefmt.local_time(row.timezone, now)
        ran_today = row.last_run_local_date is not None and row.last_run_local_date >= local.date()
        if ran_today and not include_ran:
            continue
        if not (ignore_hour or is_due(local, row.hour, row.last_run_local_date)):
            continue
        runs.append(
            SystemRun(
                system_id=row.id,
                name=row.name,
                timezone=row.timezone,
                compliance=bool(row.compliance),
                local_date=local.date(),
                enabled=row.enabled,
                kind=row.kind,
                recipient_ids=row.recipient_ids,
                send_all_clear=row.send_all_clear,
                previous=digest_email.PreviousDigest(
                    row.last_digest_on, row.last_digest_total, row.last_digest_with_mfa
                )
                if row.last_digest_on is not None
                else None,
            )
        )
    return runs


def _has_work():
    """Every firm has daily work: its adoption snapshot, whether or not its
    digest is on or its system needs reminders."""
    return sa.true()


def due_system_ids(session: Session, now: datetime) -> list[int]:
    """Ids of the systems due now: one query, cheap when nothing is due.

    No local date is later than UTC's date plus one, so rules that ran for
    that date are left out in SQL; the rest are checked against their zone.
    """
    horizon = now.date() + timedelta(days=1)
    not_run = sa.or_(
        HeadsUpRule.last_run_local_date.is_(None), HeadsUpRule.last_run_local_date < horizon
    )
    return [run.system_id for run in _runs(session, now, (_has_work(), not_run))]


def claim(session: Session, runs: list[SystemRun]) -> list[SystemRun]:
    """Claim today's run of each system with a conditional UPDATE; keep the ones won.

    The UPDATE only moves rules whose last run is before the local date, so
    of two concurrent claimers exactly one gets each system (on PostgreSQL
    the second waits for the first's commit and then matches nothing).
    """
    by_date: dict[date, list[SystemRun]] = defaultdict(list)
    for run in runs:
        by_date[run.local_date].append(run)
    won: set[int] = set()
    for local_date, group in by_date.items():
        statement = (
            sa.update(HeadsUpRule)
            .where(
                HeadsUpRule.system_id.in_([run.system_id for run in group]),
                sa.or_(
                    HeadsUpRule.last_run_local_date.is_(None),
                    HeadsUpRule.last_run_local_date < local_date,
                ),
            )
            .values(last_run_local_date=local_date)
            .returning(HeadsUpRule.system_id)
            .execution_options(synchronize_session=False)
        )
        won.update(session.scalars(statement))
    return [run for run in runs if run.system_id in won]


def batches(system_ids: list[int]) -> Iterator[list[int]]:
    """`system_ids` in batches of `BATCH_SIZE`: one task (and transaction) each."""
    for start in range(0, len(system_ids), BATCH_SIZE):
        yield system_ids[start : start + BATCH_SIZE]


def run_systems(
    session: Session, system_ids: Iterable[int], now: datetime, *, ignore_hour: bool = False
) -> RunSummary:
    """Run the due systems among `system_ids`: claim, remind, write digests.

    One batch (see `batches`) is one transaction for the caller to commit:
    a worker that dies mid-run then leaves its systems unclaimed for the
    retry. `ignore_hour` (the `heads-up run` command) runs systems before
    their hour, still once per local date.
    """
    interval = timedelta(days=current_app.config["MFA_REMINDER_INTERVAL_DAYS"])
    runs = claim(
        session,
        _runs(
            session, now, (System.id.in_(list(system_ids)), _has_work()), ignore_hour=ignore_hour
        ),
    )
    # The day's counts, once: the adoption snapshots and the digests share them.
    counts = adoption_counts.counts_by_firm(session, [run.system_id for run in runs], now)
    first_snapshots = snapshots.firms_without_history(session, runs)
    snapshots.write_daily(session, runs, counts, now)
    backfill.backfill(session, first_snapshots, counts, now)
    for run in runs:
        _set_counts(run, counts[run.system_id])
    reminder_ids, reminder_counts = reminders.queue_reminders(
        session, [run for run in runs if run.compliance], now, interval
    )
    for run in runs:
        if run.compliance:
            run.reminders_sent = reminder_counts[run.system_id]
    digest_ids = queue_digests(session, [run for run in runs if run.enabled], now)
    summary = RunSummary(
        systems=len(runs),
        digests=len(digest_ids),
        reminders=len(reminder_ids),
        outbox_ids=reminder_ids + digest_ids,
    )
    log.info(
        "heads-up: %s systems run, %s digests and %s reminders queued",
        summary.systems,
        summary.digests,
        summary.reminders,
    )
    return summary


def send_now(session: Session, system_id: int, requested_at: datetime) -> RunSummary:
    """The admin's "Send now": this system's digest at once, whatever the hour or rule
    (an all-clear digest when nobody is listed).

    It does not count as the day's run. Its dedupe key carries the request's
    time, so a retried task or a double click sends once and a later click
    sends again.
    """
    runs = _runs(
        session, requested_at, (System.id == system_id,), ignore_hour=True, include_ran=True
    )
    counts = adoption_counts.counts_by_firm(session, [run.system_id for run in runs], requested_at)
    for run in runs:
        run.dedupe_suffix = f":now:{requested_at.strftime('%Y%m%dT%H%M%S')}"
        run.send_all_clear = True
        _set_counts(run, counts[run.system_id])
    ids = queue_digests(session, runs, requested_at)
    return RunSummary(systems=len(runs), digests=len(ids), outbox_ids=ids)


def _set_counts(run: SystemRun, counts: adoption_counts.FirmCounts) -> None:
    run.total, run.with_mfa = counts.active_users, counts.with_mfa
    run.listed_total = (
        run.with_mfa if run.kind == HeadsUpKind.WITH_MFA.value else counts.without_mfa
    )


def queue_digests(session: Session, runs: list[SystemRun], now: datetime) -> list[int]:
    """Queue the digests of these systems, one per recipient admin; return the outbox ids.

    The runs carry their counts (`_set_counts`). Three statements for the
    whole batch: the listed users (the first `LIST_CAP` per system, by a
    window function, streamed), an INSERT … SELECT over the recipient admins,
    and one UPDATE keeping on each rule what its digest reported (for the
    next digest's change).
    """
    if not runs:
        return []
    by_id = {run.system_id: run for run in runs}
    for row in _listed_users(session, runs):
        run = by_id[row.system_id]
        run.listed.append(
            digest_email.ListedUser(
                row.display_name,
                row.email,
                digest_email.local_day(row.last_sign_in_at, run.timezone),
            )
        )
    emails = {
        run.system_id: SystemEmail(
            *digest_email.render_digest(run),
            run.local_date,
            f"heads_up:{run.system_id}:",
            f":{run.local_date}{run.dedupe_suffix}",
        )
        for run in runs
        if run.total and (run.listed_total or run.send_all_clear)
    }
    # All active admins, except where a rule names its recipients (still only
    # active admins of that same system).
    chosen = {
        id_: by_id[id_].recipient_ids for id_ in emails if by_id[id_].recipient_ids is not None
    }
    audience = sa.true()
    if chosen:
        audience = sa.or_(
            User.system_id.not_in(list(chosen)),
            *(sa.and_(User.system_id == id_, User.id.in_(ids)) for id_, ids in chosen.items()),
        )
    recipients = sa.and_(User.active_admin, audience)
    inserted = insert_per_user(session, kind="heads_up", now=now, emails=emails, where=recipients)
    digest_email.remember_counts(session, [by_id[system_id] for system_id in emails])
    return [outbox_id for outbox_id, _ in inserted]


def _listed_users(session: Session, runs: list[SystemRun]) -> Iterator[sa.Row]:
    """The first `LIST_CAP` users each digest lists, streamed for the whole batch."""
    wanted = sa.or_(
        *(
            sa.and_(
                User.system_id.in_([run.system_id for run in runs if run.kind == kind]),
                active_with_mfa_by_firm()
                if kind == HeadsUpKind.WITH_MFA.value
                else active_without_mfa_by_firm(),
            )
            for kind in {run.kind for run in runs}
        )
    )
    rank = (
        sa.func.row_number()
        .over(partition_by=User.system_id, order_by=(User.display_name, User.id))
        .label("rank")
    )
    ranked = (
        sa.select(User.system_id, User.display_name, User.email, User.last_sign_in_at, rank)
        .where(wanted)
        .subquery()
    )
    query = (
        select(ranked)
        .where(ranked.c.rank <= LIST_CAP)
        .order_by(ranked.c.system_id, ranked.c.rank)
        .execution_options(yield_per=2000)
    )
    return iter(session.execute(query))
