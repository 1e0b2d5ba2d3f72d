"""`flask --app wsgi systems create|users create|demo`: firms and their people."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from webapp import accounts
from webapp.extensions import db

systems_cli = AppGroup("systems", help="Firms' systems (tenants).")
users_cli = AppGroup("users", help="Users of a system.")

DEMO_SYSTEM = "Harbour & Quay Law"
DEMO_PASSWORD = "demo-password-1234"  # noqa: S105 (printed by `demo`)
DEMO_ADMIN = ("aroha.admin@harbourquay.example", "Aroha Ngata")
DEMO_USERS = [
    ("zoe.brown@harbourquay.example", "Zoë Brown"),
    ("jose.alvarez@harbourquay.example", "José Álvarez"),
    ("mere.tuhoe@harbourquay.example", "Mere Tūhoe"),
    ("liam.chen@harbourquay.example", "Liam Chen"),
    ("siobhan.oleary@harbourquay.example", "Siobhán O'Leary"),
]


def fail(message: str) -> None:
    """Stop the command with `message` on stderr and exit status 1."""
    raise click.ClickException(message)


@systems_cli.command("create")
@click.argument("name")
@click.option("--country", required=True, help="ISO 3166 alpha-2 code, e.g. NZ.")
@click.option("--timezone", "timezone_name", required=True, help="IANA timezone.")
@click.option("--accounting", type=click.Choice(["xero", "other", "none"]), default="none")
def systems_create(name: str, country: str, timezone_name: str, accounting: str) -> None:
    """Create a firm's system."""
    try:
        system = accounts.create_system(
            db.session, name, country=country, timezone=timezone_name, accounting=accounting
        )
    except accounts.InvalidInput as error:
        fail(str(error))
    db.session.commit()
    note = " (MFA compliance applies)" if system.compliance_required else ""
    click.echo(f"Created system {system.name!r} (id {system.id}){note}.")


@users_cli.command("create")
@click.option("--system", "system_name", required=True, help="The system's name.")
@click.option("--email", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--password", required=True, help="At least 12 characters.")
@click.option("--admin", is_flag=True, help="Make the user an admin of the system.")
def users_create(system_name: str, email: str, name: str, password: str, admin: bool) -> None:
    """Create a user in a system."""
    system = accounts.find_system(db.session, system_name)
    if system is None:
        fail(f"No system called {system_name!r}.")
    try:
        user = accounts.create_user(
            db.session, system, email=email, name=name, password=password, admin=admin
        )
    except accounts.InvalidInput as error:
        fail(str(error))
    db.session.commit()
    click.echo(f"Created {'admin' if admin else 'user'} {user.email} in {system.name!r}.")


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Create the demo firm (a New Zealand firm linked to Xero) and say how to sign in.

    Run `db upgrade` first. Safe to run again: an existing demo firm is kept.
    Refused in production: its users' password is printed here and in the README.
    """
    if current_app.config["ENV_NAME"] == "production":
        fail(
            "`demo` is refused in production: its accounts share a published password. "
            "Create the firm with `systems create` and `users create`."
        )
    session = db.session
    system = accounts.find_system(session, DEMO_SYSTEM)
    if system is None:
        system = accounts.create_system(
            session, DEMO_SYSTEM, country="NZ", timezone="Pacific/Auckland", accounting="xero"
        )
        email, name = DEMO_ADMIN
        accounts.create_user(
            session, system, email=email, name=name, password=DEMO_PASSWORD, admin=True
        )
        for email, name in DEMO_USERS:
            accounts.create_user(session, system, email=email, name=name, password=DEMO_PASSWORD)
        session.commit()
        click.echo(f"Created the demo firm {DEMO_SYSTEM!r} (New Zealand, linked to Xero).")
    else:
        click.echo(f"The demo firm {DEMO_SYSTEM!r} is already there.")
    click.echo(
        "\nSign in at http://127.0.0.1:5000/sign-in\n"
        f"  admin: {DEMO_ADMIN[0]}\n"
        f"  user:  {DEMO_USERS[0][0]}\n"
        f"  password (both): {DEMO_PASSWORD}"
    )
