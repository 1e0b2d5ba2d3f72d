"""Celery for Firmguard, built from the Flask config (Flask's `celery_init_app`).

`celery -A jobs worker` and `celery -A jobs beat` find the app through the
module attribute `celery`, created on first access so that importing `jobs`
from inside the web app never builds a second Flask app.
"""

from __future__ import annotations

import importlib

from celery import Celery, Task
from flask import Flask

from jobs.schedule import BEAT_SCHEDULE

TASK_MODULES = ["jobs.mail", "jobs.heads_up"]


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for `app`; every task runs inside its app context."""

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.imports = TASK_MODULES
    celery_app.conf.beat_schedule = BEAT_SCHEDULE
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # Shared tasks attach to every app once their module is imported.
    for module in TASK_MODULES:
        importlib.import_module(module)
    return celery_app


def __getattr__(name: str):
    if name == "celery":
        from webapp import create_app

        return create_app().extensions["celery"]
    raise AttributeError(name)
