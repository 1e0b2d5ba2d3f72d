"""Celery for Firmguard, built from the Flask config (Flask's `celery_init_app`)."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

# The modules whose `@shared_task`s a worker must know.
TASK_MODULES = ["webapp.tasks"]


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app for `app`; every task runs inside its app context."""
    from webapp import logs, tasks  # noqa: F401  (shared tasks attach to the new app)

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.conf.imports = TASK_MODULES
    celery_app.set_default()
    logs.init_celery(app.config["LOG_FORMAT"])
    app.extensions["celery"] = celery_app
    return celery_app
