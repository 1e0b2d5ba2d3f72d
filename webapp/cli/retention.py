"""`flask --app wsgi retention run`: what the hourly retention task does, now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from tqdm import tqdm

from webapp import retention
from webapp.extensions import db
from webapp.models import utcnow

retention_cli = AppGroup("retention", help="Deleting what has expired (README, Retention).")


@retention_cli.command("run")
def run() -> None:
    """Delete expired rows and old emails' bodies now, in batches, with a progress bar.

    Safe to stop and run again, and to run while the workers run theirs.
    """
    session, now, settings = db.session, utcnow(), current_app.config
    due = retention.due_counts(session, now, settings)
    done = dict.fromkeys(due, 0)
    with tqdm(total=sum(due.values()), unit="row", desc="retention", disable=None) as progress:
        for step in retention.steps(session, now, settings):
            # Per batch: each statement's locks last one short transaction.
            session.commit()
            done[step.name] += step.rows
            progress.update(step.rows)
    for name, rows in done.items():
        click.echo(f"{name}: {rows}")
