"""Heads-up tasks: the hourly tick, a run over a batch of systems, and "Send now".

Thin wrappers around `webapp.heads_up`; every task takes ids and is
idempotent (runs are claimed per local date, emails deduplicated in the
outbox), so a redelivered or repeated task sends nothing twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task

from webapp import heads_up
from webapp.extensions import db
from webapp.models import utcnow
from webapp.outbox import request_delivery

log = logging.getLogger(__name__)


@shared_task(name="jobs.heads_up.tick", ignore_result=True)
def tick() -> int:
    """Find the due systems (one query) and queue their runs in batches."""
    with db.new_session() as session:
        due = heads_up.due_system_ids(session, utcnow())
    for start in range(0, len(due), heads_up.BATCH_SIZE):
        run_systems.delay(due[start : start + heads_up.BATCH_SIZE])
    if due:
        log.info("heads-up tick: %s systems due", len(due))
    return len(due)


@shared_task(name="jobs.heads_up.run_systems", acks_late=True, ignore_result=True)
def run_systems(system_ids: list[int]) -> dict:
    """Run the due systems among `system_ids` and ask for their emails' delivery."""
    with db.new_session() as session:
        summary = heads_up.run_systems(session, system_ids, utcnow())
    if summary.outbox_ids:
        request_delivery(summary.outbox_ids)
    return {"systems": summary.systems, "digests": summary.digests, "reminders": summary.reminders}


@shared_task(name="jobs.heads_up.send_heads_up_now", acks_late=True, ignore_result=True)
def send_heads_up_now(system_id: int, requested_at: str | None = None) -> int:
    """The admin's "Send now" for one system.

    Pass `requested_at` (ISO 8601, the click's time) so that a redelivered
    task deduplicates against the first one.
    """
    moment = datetime.fromisoformat(requested_at) if requested_at else utcnow()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    with db.new_session() as session:
        summary = heads_up.send_now(session, system_id, moment)
    if summary.outbox_ids:
        request_delivery(summary.outbox_ids)
    log.info("heads-up sent now for system %s: %s digests", system_id, summary.digests)
    return summary.digests


def request_send_now(system_id: int) -> bool:
    """Queue "Send now" for a system from a web request; False if the broker is down.

    The click's time goes with the task, so a redelivered task sends nothing twice.
    """
    try:
        send_heads_up_now.delay(system_id, utcnow().isoformat())
    except Exception:  # noqa: BLE001 - any broker error; the admin is told to retry
        log.warning("could not queue send-now for system %s", system_id, exc_info=True)
        return False
    return True
