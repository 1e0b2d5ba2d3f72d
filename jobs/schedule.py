"""The beat schedule, in one place (`celery -A jobs beat`, and `jobs.embedded`)."""

from __future__ import annotations

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Hourly: each system whose local time has reached its heads-up hour and
    # that has not run for its local date gets its run (digest and reminders).
    "heads-up-tick": {
        "task": "webapp.tasks.heads_up_tick",
        "schedule": crontab(minute=0),
    },
    # Every minute: send outbox rows that are due (new rows whose delivery
    # request was lost, and failed sends whose back-off has passed).
    "retention": {
        # Hourly, half past (clear of the heads-up tick): expired rows deleted
        # in bounded batches (README, "Retention").
        "task": "webapp.tasks.run_retention",
        "schedule": crontab(minute=30),
    },
    "outbox-sweep": {
        "task": "webapp.tasks.sweep_outbox",
        "schedule": crontab(),
    },
}
