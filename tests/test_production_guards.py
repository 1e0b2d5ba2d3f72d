"""Production refuses to start with a guessable secret, the development key or
SQLite; refuses `flask demo`; and sends HSTS (which development does not)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from config import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY
from webapp import create_app
from webapp.models import System

STRONG_SECRET = "kR7vQ2xLp9sT4wZ1mN8bY3cF6hJ0dG5a"
STRONG_KEY = "bmV3LWtleS1mb3ItcHJvZHVjdGlvbi11c2UtMDAwMDA="
POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432/unused"
HSTS = "max-age=31536000; includeSubDomains"


def production(**settings) -> dict:
    return {
        "SECRET_KEY": STRONG_SECRET,
        "MFA_ENCRYPTION_KEYS": [STRONG_KEY],
        "DATABASE_URL": POSTGRES,
        **settings,
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"SECRET_KEY": DEV_SECRET_KEY}, "SECRET_KEY is the public development value"),
        ({"SECRET_KEY": "kR7vQ2xLp9sT4wZ1mN8bY3c"}, "32\\+ characters"),
        ({"SECRET_KEY": "ab" * 20}, "at least 16 different characters"),
        ({"SECRET_KEY": "0123456789abcd" * 3}, "14 different"),
        ({"MFA_ENCRYPTION_KEYS": [STRONG_KEY, DEV_ENCRYPTION_KEY]}, "development key"),
        ({"DATABASE_URL": "sqlite:////var/lib/firmguard/firmguard.sqlite"}, "PostgreSQL"),
    ],
)
def test_production_refuses_to_start(settings, message):
    with pytest.raises(RuntimeError, match=message):
        create_app("production", production(**settings))


def test_production_starts_with_a_strong_secret_and_postgresql():
    app = create_app("production", production())
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_an_operator_who_forgets_database_url_is_told_before_anything_runs(tmp_path):
    """As typed: the environment of the README's production section without
    DATABASE_URL falls back to SQLite, and the command stops with the reason."""
    env = {
        **os.environ,
        "FIRMGUARD_ENV": "production",
        "FIRMGUARD_INSTANCE": str(tmp_path / "instance"),
        "SECRET_KEY": STRONG_SECRET,
        "MFA_ENCRYPTION_KEYS": STRONG_KEY,
        "DATABASE_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Production needs PostgreSQL" in result.stderr
    assert not (tmp_path / "instance" / "firmguard.sqlite").exists()


@pytest.fixture
def production_app(postgres_url):
    app = create_app("production", production(DATABASE_URL=postgres_url))
    yield app
    app.extensions["firmguard_db"].dispose()


def test_demo_is_refused_in_production(production_app):
    result = production_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 1
    assert "`demo` is refused in production" in result.output
    with Session(production_app.extensions["firmguard_db"]) as session:
        assert session.exec(select(System)).all() == []


def test_production_sends_hsts(production_app):
    response = production_app.test_client().get("/sign-in")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"] == HSTS


def test_development_and_tests_send_no_hsts(client):
    # A browser that saw HSTS on http://127.0.0.1 would refuse the plain-http dev server.
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers
