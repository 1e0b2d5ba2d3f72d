"""Outbox delivery tasks: thin wrappers around `webapp.outbox`."""

from __future__ import annotations

import logging

from celery import shared_task

from webapp.extensions import db
from webapp.outbox import deliver_due

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox(ids: list[int] | None = None) -> dict:
    """Deliver due outbox rows (only `ids` when given). Safe to run twice:
    each row is claimed with a conditional UPDATE before it is sent.
    """
    with db.new_session() as session:
        counts = deliver_due(session, ids=ids or ())
    log.info("outbox delivery: %s", counts)
    return counts
