"""`flask --app wsgi db upgrade|revision`: the schema, by Alembic migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import current_app
from flask.cli import AppGroup

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(url: str | None = None) -> AlembicConfig:
    """Alembic's config for this project, pointed at `url` (default: the app's database)."""
    # Imported here, not with the app: importing Alembic logs a line per plugin
    # in every process (web, worker) that never migrates anything.
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url or current_app.config["DATABASE_URL"])
    return config


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    from alembic import command as alembic_command

    alembic_command.upgrade(alembic_config(), "heads")
    click.echo("Database is up to date.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
def db_revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    from alembic import command as alembic_command

    alembic_command.revision(alembic_config(), message=message, autogenerate=True)
