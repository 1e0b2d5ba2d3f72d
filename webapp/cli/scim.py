"""`flask --app wsgi scim token create`: a SCIM token for a firm's identity provider."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp import accounts
from webapp.accounts import FieldError
from webapp.cli.accounts import fail
from webapp.extensions import db
from webapp.models import utcnow
from webapp.scim import tokens

scim_cli = AppGroup("scim", help="SCIM provisioning.")
token_cli = AppGroup("token", help="SCIM bearer tokens.")
scim_cli.add_command(token_cli)


@token_cli.command("create")
@click.option("--system", "system_name", required=True, help="The system's name.")
@click.option("--name", required=True, help="A label for the token, e.g. 'Entra ID'.")
def token_create(system_name: str, name: str) -> None:
    """Create a SCIM token and print it (once: only its hash is kept)."""
    system = accounts.find_system(db.session, system_name)
    if system is None:
        fail(f"No system called {system_name!r}.")
    try:
        token, secret = tokens.create_token(db.session, system, name=name, admin=None, now=utcnow())
    except FieldError as error:
        fail(str(error))
    db.session.commit()
    click.echo(f"Created the SCIM token {token.name!r} for {system.name!r}. It is shown only now:")
    click.echo(secret)
