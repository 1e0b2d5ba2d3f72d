"""The operator commands and their error cases."""

from __future__ import annotations

import pytest
from sqlmodel import select

from webapp.models import System, User


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_systems_create(cli, session):
    result = cli(
        "systems",
        "create",
        "Kauri & Co",
        "--country",
        "nz",
        "--timezone",
        "Pacific/Auckland",
        "--accounting",
        "xero",
    )
    assert result.exit_code == 0, result.output
    assert "MFA compliance applies" in result.output
    system = session.exec(select(System)).one()
    assert (system.name, system.country, system.accounting_link) == ("Kauri & Co", "NZ", "xero")
    assert system.compliance_required


@pytest.mark.parametrize(
    "args, message",
    [
        (["--country", "XX", "--timezone", "UTC"], "Unknown country code 'XX'"),
        (["--country", "NZ", "--timezone", "Mars/Olympus"], "Unknown timezone 'Mars/Olympus'"),
        (["--country", "NZ", "--timezone", "UTC", "--accounting", "myob"], "Invalid value"),
    ],
)
def test_systems_create_refuses_bad_input(cli, session, args, message):
    result = cli("systems", "create", "Bad Firm", *args)
    assert result.exit_code != 0
    assert message in result.output
    assert session.exec(select(System)).all() == []


def test_systems_create_refuses_a_duplicate_name(cli):
    assert (
        cli(
            "systems", "create", "Twice", "--country", "AU", "--timezone", "Australia/Sydney"
        ).exit_code
        == 0
    )
    result = cli("systems", "create", "Twice", "--country", "AU", "--timezone", "Australia/Sydney")
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_users_create_and_its_errors(cli, session):
    cli("systems", "create", "Firm", "--country", "AU", "--timezone", "Australia/Sydney")
    ok = cli(
        "users",
        "create",
        "--system",
        "Firm",
        "--email",
        "Boss@Firm.example",
        "--name",
        "Bé Boss",
        "--password",
        "long enough password",
        "--admin",
    )
    assert ok.exit_code == 0, ok.output
    user = session.exec(select(User)).one()
    assert (user.email, user.display_name, user.role) == ("boss@firm.example", "Bé Boss", "admin")
    assert user.password_hash.startswith("$argon2id$")

    duplicate = cli(
        "users",
        "create",
        "--system",
        "Firm",
        "--email",
        "BOSS@firm.example",
        "--name",
        "Other",
        "--password",
        "long enough password",
    )
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    unknown = cli(
        "users",
        "create",
        "--system",
        "Nope",
        "--email",
        "a@b.example",
        "--name",
        "A",
        "--password",
        "long enough password",
    )
    assert unknown.exit_code == 1 and "No system called 'Nope'" in unknown.output
    short = cli(
        "users",
        "create",
        "--system",
        "Firm",
        "--email",
        "c@b.example",
        "--name",
        "C",
        "--password",
        "short",
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_email = cli(
        "users",
        "create",
        "--system",
        "Firm",
        "--email",
        "not-an-email",
        "--name",
        "D",
        "--password",
        "long enough password",
    )
    assert bad_email.exit_code == 1 and "not a valid email" in bad_email.output
    assert len(session.exec(select(User)).all()) == 1


def test_demo_seeds_a_new_zealand_xero_firm_and_says_how_to_sign_in(cli, session, client):
    result = cli("demo")
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5000/sign-in" in result.output
    system = session.exec(select(System)).one()
    assert (system.country, system.accounting_link) == ("NZ", "xero")
    users = session.exec(select(User)).all()
    assert sum(u.is_admin for u in users) == 1 and len(users) >= 5
    assert any(not u.display_name.isascii() for u in users)
    again = cli("demo")
    assert again.exit_code == 0 and "already there" in again.output
    admin_email = next(u.email for u in users if u.is_admin)
    password = result.output.split("password (both): ")[1].strip()
    from tests.conftest import sign_in

    assert sign_in(client, admin_email, password).status_code == 302
    assert client.get("/admin/users").status_code == 200


@pytest.mark.parametrize("name", ["Kauri\r\nBcc: all@example.com", "Kauri\tLaw", "Kauri\x00"])
def test_systems_create_refuses_control_characters_in_the_name(cli, session, name):
    result = cli("systems", "create", name, "--country", "NZ", "--timezone", "UTC")
    assert result.exit_code == 1
    assert "The system name must not hold control characters" in result.output
    assert "subject of the firm's emails" in result.output
    assert session.exec(select(System)).all() == []


def test_users_create_refuses_control_characters_in_the_name_or_email(cli, session):
    assert cli("systems", "create", "Kauri", "--country", "NZ", "--timezone", "UTC").exit_code == 0
    base = ["users", "create", "--system", "Kauri", "--password", "a long enough password"]
    named = cli(*base, "--email", "ana@kauri.example", "--name", "Ana\nBcc: x@example.com")
    assert named.exit_code == 1
    assert "The name must not hold control characters" in named.output
    mailed = cli(*base, "--email", "ana\x07@kauri.example", "--name", "Ana")
    assert mailed.exit_code == 1 and "is not a valid email address" in mailed.output
    assert session.exec(select(User)).all() == []
