"""The embedded job runner: the beat schedule, in-process, without Redis.

`python -m jobs.embedded` (started by `scripts/serve-demo`) is for a single
machine with no broker: each entry of `jobs.schedule.BEAT_SCHEDULE` runs
in this process when its schedule says so, through the same tasks a Celery
worker runs (eagerly, as the config does without `REDIS_URL`). With
`REDIS_URL` set, use `celery -A jobs worker` and `celery -A jobs beat`.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime

from celery import Celery

from jobs.schedule import BEAT_SCHEDULE
from webapp.models import utcnow

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0
# An entry that never ran is due at once: starting the runner catches up.
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


def run_due_entries(celery_app: Celery, last_run: dict[str, datetime]) -> list[str]:
    """Run each schedule entry that is due since its last run; return their names."""
    ran = []
    for name, entry in BEAT_SCHEDULE.items():
        schedule = entry["schedule"]
        schedule.app = celery_app
        due, _next = schedule.is_due(last_run.setdefault(name, NEVER))
        if due:
            last_run[name] = utcnow()
            celery_app.tasks[entry["task"]].apply()
            ran.append(name)
    return ran


def main() -> None:
    """Run the schedule until SIGINT or SIGTERM."""
    from webapp import create_app

    app = create_app()
    celery_app = app.extensions["celery"]
    # One line per eager task every minute would drown the demo's console;
    # the tasks log themselves when they do something.
    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
    if not celery_app.conf.task_always_eager:
        raise SystemExit("REDIS_URL is set: run `celery -A jobs worker -B` instead.")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    log.info("embedded job runner: %s", ", ".join(BEAT_SCHEDULE))
    last_run: dict[str, datetime] = {}
    while not stop.is_set():
        for name in run_due_entries(celery_app, last_run):
            log.info("ran %s", name)
        stop.wait(POLL_SECONDS)


if __name__ == "__main__":
    main()
