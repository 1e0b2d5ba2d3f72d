"""Queued emails are sent once the transaction that queued them commits: one hook.

`after_flush` notes the outbox rows an app session's transaction inserted
through the ORM (the outbox's own set-based INSERTs note theirs as they run,
`outbox.note_queued`); `after_commit` asks the job queue to deliver them;
`after_rollback` forgets them. So no caller places a delivery request by hand,
a request is never made before the rows are visible to a worker, and nothing
is sent for a rolled-back transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import event

from webapp import outbox
from webapp.db import AppSession
from webapp.mail import BATCH_SIZE
from webapp.models import OutboundEmail
from webapp.tasks import deliver_outbox

log = logging.getLogger(__name__)


def request_delivery(ids: Iterable[int] = ()) -> None:
    """Ask the job queue to deliver these committed rows now (no ids: whatever is due).

    A broker outage must not fail the user's request: the rows stay pending
    and the next outbox sweep (every minute, `jobs.schedule`) delivers them.
    """
    ids = list(ids)
    batches = [ids[start : start + BATCH_SIZE] for start in range(0, len(ids), BATCH_SIZE)]
    try:
        for batch in batches or [[]]:
            deliver_outbox.delay(batch)
    except Exception:  # noqa: BLE001 - any broker error; the sweep retries
        log.warning("could not enqueue outbox delivery; the sweep will retry", exc_info=True)


def take_queued_ids(session: AppSession) -> list[int]:
    """Take this transaction's queued rows away from the hook: for a command
    that sends them itself, right after its commit, and reports how it went."""
    session.flush()
    return session.info.pop(outbox.QUEUED_IDS, [])


@event.listens_for(AppSession, "after_flush")
def _note_inserted_rows(session: AppSession, _flush_context) -> None:
    inserted = [row.id for row in session.new if isinstance(row, OutboundEmail)]
    if inserted:
        outbox.note_queued(session, inserted)


@event.listens_for(AppSession, "after_commit")
def _deliver_after_commit(session: AppSession) -> None:
    # A savepoint's release is not the transaction's commit.
    if session.in_nested_transaction():
        return
    ids = session.info.pop(outbox.QUEUED_IDS, None)
    if ids:
        request_delivery(ids)


@event.listens_for(AppSession, "after_rollback")
def _forget_after_rollback(session: AppSession) -> None:
    # A savepoint rolled back keeps the list: a row it had inserted no longer
    # exists, and delivery skips an id it cannot find.
    if not session.in_nested_transaction():
        session.info.pop(outbox.QUEUED_IDS, None)
