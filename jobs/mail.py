"""Outbox delivery tasks: thin wrappers around `webapp.outbox`."""

from __future__ import annotations

import logging

from celery import shared_task

from webapp import outbox
from webapp.extensions import db

log = logging.getLogger(__name__)


@shared_task(name="jobs.mail.deliver_outbox", acks_late=True, ignore_result=True)
def deliver_outbox(ids: list[int] | None = None) -> dict:
    """Deliver due outbox rows (only `ids` when given). Safe to run twice:
    each row is claimed with a conditional UPDATE before it is sent; a failed
    send is retried by the sweep once its back-off has passed.
    """
    with db.new_session() as session:
        counts = outbox.deliver_due(session, ids=ids or ())
    log.info("outbox delivery: %s", counts)
    return counts


@shared_task(name="jobs.mail.sweep_outbox", acks_late=True, ignore_result=True)
def sweep_outbox() -> dict:
    """Deliver every due outbox row (beat, every minute)."""
    with db.new_session() as session:
        counts = outbox.sweep(session)
    if any(counts.values()):
        log.info("outbox sweep: %s", counts)
    return counts
