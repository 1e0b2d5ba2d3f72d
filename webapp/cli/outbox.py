"""`flask --app wsgi outbox status|retry|discard`: the outbox, for operators."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from webapp import outbox
from webapp.extensions import db
from webapp.models import EmailStatus, OutboundEmail, utcnow

outbox_cli = AppGroup("outbox", help="Queued emails: backlog, failed emails.")

SHOWN = 20


def age_in_words(seconds: int | None) -> str:
    if seconds is None:
        return "none pending"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s"


@outbox_cli.command("status")
def status() -> None:
    """The backlog (as /healthz reports it), counts by status and the failed emails."""
    session = db.session
    backlog = outbox.backlog(session, utcnow())
    counts = dict(
        session.execute(
            sa.select(OutboundEmail.status, sa.func.count()).group_by(OutboundEmail.status)
        ).all()
    )
    click.echo(f"Oldest pending email: {age_in_words(backlog.oldest_pending_seconds)}")
    click.echo(f"Failed emails: {backlog.failed}")
    click.echo(
        "By status: "
        + ", ".join(f"{name} {counts.get(name, 0)}" for name in (s.value for s in EmailStatus))
    )
    for row in outbox.failed_rows(session, SHOWN):
        click.echo(
            f"  #{row.id} {row.kind} to {row.recipient}, queued {row.created_at:%Y-%m-%d %H:%M} "
            f"UTC, {row.attempts} attempts: {row.last_error or '-'}"
        )
    if backlog.failed > SHOWN:
        click.echo(f"  … and {backlog.failed - SHOWN} more")
    if backlog.failed:
        click.echo("Act on them with `outbox retry` or `outbox discard` (--id N, or --all).")


def chosen_ids(ids: tuple[int, ...], every: bool) -> list[int] | None:
    """The rows a retry or discard is for: the given ids, or None for all."""
    if bool(ids) == every:
        raise click.UsageError("Give --id N (one or more times) or --all.")
    return None if every else list(ids)


@outbox_cli.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="A failed email's id (repeatable).")
@click.option("--all", "every", is_flag=True, help="Every failed email.")
def retry(ids: tuple[int, ...], every: bool) -> None:
    """Send failed emails again (pending, fresh attempts), e.g. after fixing the mail server."""
    retried = outbox.retry_failed(db.session, utcnow(), chosen_ids(ids, every))
    db.session.commit()
    click.echo(f"{len(retried)} failed email(s) will be sent again.")


@outbox_cli.command("discard")
@click.option("--id", "ids", type=int, multiple=True, help="A failed email's id (repeatable).")
@click.option("--all", "every", is_flag=True, help="Every failed email.")
def discard(ids: tuple[int, ...], every: bool) -> None:
    """Give up on failed emails: never sent, deleted later like sent ones."""
    discarded = outbox.discard_failed(db.session, chosen_ids(ids, every))
    db.session.commit()
    click.echo(f"{len(discarded)} failed email(s) discarded.")
