"""The background tasks (Celery `@shared_task`s), beside the app code they call.

As in Flask's own Celery example, the tasks live with the app and attach to
whichever Celery app is current (`webapp.celery_app.celery_init_app`); `jobs/`
only starts the worker and holds the beat schedule. Every task takes ids,
does its work in a service function and is idempotent (runs are claimed per
local date, emails deduplicated and claimed in the outbox), so a redelivered
or repeated task sends nothing twice. Each task is one unit of work: it
commits once, except the outbox delivery, whose unit is one row
(`webapp.mail.deliver_due`), and retention, whose unit is one batch.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task
from flask import current_app

from webapp import heads_up, mail, retention
from webapp.extensions import db
from webapp.models import utcnow

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox(ids: list[int] | None = None) -> dict:
    """Deliver due outbox rows (only `ids` when given). Safe to run twice:
    each row is claimed with a conditional UPDATE before it is sent; a failed
    send is retried by the sweep once its back-off has passed.
    """
    with db.new_session() as session:
        counts = mail.deliver_due(session, ids=ids or ())
    log.info("outbox delivery: %s", counts)
    return counts


@shared_task(acks_late=True, ignore_result=True)
def sweep_outbox() -> dict:
    """Deliver every due outbox row (beat, every minute)."""
    with db.new_session() as session:
        counts = mail.sweep(session)
    if any(counts.values()):
        log.info("outbox sweep: %s", counts)
    return counts


@shared_task(ignore_result=True)
def heads_up_tick() -> int:
    """Find the due systems (one query) and queue their runs in batches."""
    with db.new_session() as session:
        due = heads_up.due_system_ids(session, utcnow())
    for batch in heads_up.batches(due):
        run_heads_up.delay(batch)
    if due:
        log.info("heads-up tick: %s systems due", len(due))
    return len(due)


@shared_task(acks_late=True, ignore_result=True)
def run_heads_up(system_ids: list[int]) -> dict:
    """Run the due systems among `system_ids` (one batch, one transaction).

    The claim of each system's date commits with its emails, so a worker
    killed mid-run leaves the batch unclaimed for the redelivered task.
    """
    with db.new_session() as session:
        summary = heads_up.run_systems(session, system_ids, utcnow())
        session.commit()
    return {"systems": summary.systems, "digests": summary.digests, "reminders": summary.reminders}


@shared_task(acks_late=True, ignore_result=True)
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
        session.commit()
    log.info("heads-up sent now for system %s: %s digests", system_id, summary.digests)
    return summary.digests


@shared_task(ignore_result=True)
def run_retention() -> dict:
    """Delete (or clear) what has expired, batch by batch (beat, hourly).

    Idempotent, and safe on several workers at once (`webapp.retention`).
    """
    counts: dict[str, int] = {}
    with db.new_session() as session:
        for step in retention.steps(session, utcnow(), current_app.config):
            # Per batch, not per run: a batch's locks last one short transaction.
            session.commit()
            counts[step.name] = counts.get(step.name, 0) + step.rows
    log.info("retention: %s", counts)
    return counts


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
