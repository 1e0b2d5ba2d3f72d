"""`flask --app wsgi heads-up run [--system NAME]`: the daily run, now."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup
from tqdm import tqdm

from webapp import accounts, delivery, heads_up, mail
from webapp.extensions import db
from webapp.models import HeadsUpRule, OutboundEmail, System, utcnow

heads_up_cli = AppGroup("heads-up", help="The daily heads-up digest and compliance reminders.")

# Systems per transaction: a progress step, and a batch of work that is kept
# (claimed and queued) even if the command is stopped later.
CHUNK = 50
SHOWN = 20


@heads_up_cli.command("run")
@click.option("--system", "system_name", help="Only this system (by name).")
def run(system_name: str | None) -> None:
    """Run the heads-up rule now, before its hour, and send what it queues.

    Like the scheduled run it counts once per local date: a system that has
    already run today is skipped, and today's scheduled tick will not send again.
    It sends the emails itself (not through the job queue), so it can say
    what went out.
    """
    session = db.session
    if system_name:
        system = accounts.find_system(session, system_name)
        if system is None:
            raise click.ClickException(f"No system called {system_name!r}.")
        system_ids = [system.id]
    else:
        system_ids = list(
            session.scalars(
                sa.select(System.id)
                .join(HeadsUpRule, HeadsUpRule.system_id == System.id)
                .order_by(System.id)
            )
        )
    now = utcnow()
    total = heads_up.RunSummary()
    with tqdm(total=len(system_ids), unit="system", desc="heads-up") as progress:
        for start in range(0, len(system_ids), CHUNK):
            chunk = system_ids[start : start + CHUNK]
            total.add(heads_up.run_systems(session, chunk, now, ignore_hour=True))
            delivery.take_queued_ids(session)  # sent below, by this command
            session.commit()  # per chunk: see CHUNK
            progress.update(len(chunk))
    skipped = len(system_ids) - total.systems
    click.echo(
        f"Ran {total.systems} of {len(system_ids)} systems ({skipped} already ran today or "
        f"have nothing to send): {total.digests} digests and {total.reminders} reminders queued."
    )
    sent = {"sent": 0, "retry": 0, "failed": 0}
    for start in range(0, len(total.outbox_ids), mail.BATCH_SIZE):
        counts = mail.deliver_due(session, ids=total.outbox_ids[start : start + mail.BATCH_SIZE])
        for outcome, number in counts.items():
            sent[outcome] += number
    rows = session.execute(
        sa.select(OutboundEmail.kind, OutboundEmail.recipient, OutboundEmail.status)
        .where(OutboundEmail.id.in_(total.outbox_ids[:SHOWN]))
        .order_by(OutboundEmail.id)
    )
    for kind, recipient, status in rows:
        click.echo(f"  {kind:<9} {status:<8} {recipient}")
    if len(total.outbox_ids) > SHOWN:
        click.echo(f"  … and {len(total.outbox_ids) - SHOWN} more")
    click.echo(
        f"Sent {sent['sent']} emails"
        + (
            f"; {sent['retry']} will be retried, {sent['failed']} failed"
            if sent["retry"] or sent["failed"]
            else ""
        )
        + "."
    )
