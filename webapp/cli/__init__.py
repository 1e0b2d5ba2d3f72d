"""The `flask --app wsgi …` commands (the README's "Commands"), in one place.

Each command is one unit of work: it commits once when it has done its work,
except where a comment says why it commits per batch.
"""

from __future__ import annotations

from flask import Flask

from webapp.cli.accounts import demo, systems_cli, users_cli
from webapp.cli.database import alembic_config, db_cli
from webapp.cli.heads_up import heads_up_cli
from webapp.cli.keys import keys_cli
from webapp.cli.outbox import outbox_cli
from webapp.cli.retention import retention_cli
from webapp.cli.scim import scim_cli

__all__ = ["alembic_config", "register"]


def register(app: Flask) -> None:
    """Add the commands to `app.cli`."""
    groups = (db_cli, systems_cli, users_cli, demo, heads_up_cli, keys_cli, outbox_cli)
    for group in (*groups, retention_cli, scim_cli):
        app.cli.add_command(group)
