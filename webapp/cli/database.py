"""`flask --app wsgi db upgrade|revision`: the schema, by Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from flask import current_app
from flask.cli import AppGroup

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(url: str | None = None) -> AlembicConfig:
    """Alembic's config for this project, pointed at `url` (default: the app's database)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url or current_app.config["DATABASE_URL"])
    return config


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration."""
    alembic_command.upgrade(alembic_config(), "heads")
    click.echo("Database is up to date.")


@db_cli.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
def db_revision(message: str) -> None:
    """Write a new migration from the difference between models and database."""
    alembic_command.revision(alembic_config(), message=message, autogenerate=True)
