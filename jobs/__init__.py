"""The Celery worker's and beat's entry point: `celery -A jobs worker|beat`.

The tasks live with the app code they call (`webapp.tasks`, as in Flask's
Celery example); this package only builds the app for the worker, adds the
beat schedule (`jobs.schedule`) and runs the schedule in-process without a
broker (`python -m jobs.embedded`). `celery -A jobs` finds the module
attribute `celery`, created on first access so that importing `jobs.schedule`
or `jobs.embedded` builds no Flask app.
"""

from __future__ import annotations

from celery import Celery

from jobs.schedule import BEAT_SCHEDULE


def with_schedule(celery_app: Celery) -> Celery:
    """`celery_app` with the beat schedule (what `celery -A jobs beat` runs)."""
    celery_app.conf.beat_schedule = BEAT_SCHEDULE
    return celery_app


def __getattr__(name: str):
    if name == "celery":
        from webapp import create_app

        return with_schedule(create_app().extensions["celery"])
    raise AttributeError(name)
