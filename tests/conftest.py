"""Shared fixtures: the app on SQLite and PostgreSQL, clients, users, mail.

Every test that uses `app` runs twice, once per database (`--db` narrows it).
SQLite gets a fresh file per test; PostgreSQL gets one database per test
session (created here, dropped at the end) whose tables are emptied after
each test, so runs and tests never see each other's rows.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlmodel import Session, SQLModel

from webapp import accounts, create_app
from webapp.extensions import db

PG_ADMIN_URL = os.environ.get("FIRMGUARD_TEST_PG", "postgresql://root@127.0.0.1:5432/postgres")
PASSWORD = "correct horse battery staple"
CSRF_PATTERN = re.compile(
    r'"X-CSRFToken": "([^"]+)"|name="csrf_token" type="hidden" value="([^"]+)"'
)


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=["sqlite", "postgresql", "both"],
        default="both",
        help="Database(s) to run the app tests on.",
    )


def pytest_generate_tests(metafunc):
    if "db_backend" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--db")
        backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
        metafunc.parametrize("db_backend", backends, scope="session")


@contextmanager
def private_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database of this process's own; yield its URL; drop it."""
    name = f"{prefix}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url():
    """A private PostgreSQL database for this test session, with the tables."""
    with private_postgres_database("firmguard_test") as url:
        engine = sa.create_engine(url)
        SQLModel.metadata.create_all(engine)
        engine.dispose()
        yield url


@pytest.fixture
def database_url(db_backend, tmp_path, request):
    """The URL of an empty database of the backend under test."""
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
        engine = sa.create_engine(url)
        SQLModel.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    yield url
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def app_overrides() -> dict:
    """Settings a test module can override (before `app` is built)."""
    return {}


@pytest.fixture
def app(database_url, tmp_path, app_overrides):
    """The app under the test config, on an empty database.

    No app context stays pushed: Flask would reuse it, and its `g`, for every
    test-client request. Use `session` to read rows, or push a context briefly.
    """
    overrides = {
        "DATABASE_URL": database_url,
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        **app_overrides,
    }
    application = create_app("testing", overrides)
    application.test_client_class = CsrfClient
    yield application
    application.extensions["firmguard_db"].dispose()


@pytest.fixture
def session(app):
    """A database session of the test's own, outside any request."""
    with Session(app.extensions["firmguard_db"], expire_on_commit=False) as db_session:
        yield db_session


class CsrfClient(FlaskClient):
    """A test client that can read the CSRF token a page carries."""

    def csrf_token(self, path: str = "/sign-in") -> str:
        """The CSRF token of this client's session (from the page at `path`)."""
        body = self.get(path).get_data(as_text=True)
        match = CSRF_PATTERN.search(body)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def post_form(self, path: str, data: dict | None = None, token_from: str | None = None, **kw):
        """POST a form with this session's CSRF token (from `token_from`, default `path`)."""
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token(token_from or path))
        return self.post(path, data=data, **kw)


@pytest.fixture
def client(app) -> CsrfClient:
    return app.test_client()


class Factory:
    """Makes systems and users through the same service the CLI uses."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0

    def system(self, name=None, country="NZ", timezone="Pacific/Auckland", accounting="none"):
        self.count += 1
        with self.app.app_context():
            system = accounts.create_system(
                db.session,
                name or f"Firm {self.count}",
                country=country,
                timezone=timezone,
                accounting=accounting,
            )
            db.session.commit()
        return system

    def user(self, system=None, email=None, name=None, password=PASSWORD, admin=False):
        self.count += 1
        system = system or self.system()
        with self.app.app_context():
            user = accounts.create_user(
                db.session,
                system,
                email=email or f"user{self.count}@example.com",
                name=name or f"User {self.count}",
                password=password,
                admin=admin,
            )
            db.session.commit()
        return user


@pytest.fixture
def factory(app) -> Factory:
    return Factory(app)


def sign_in(client: CsrfClient, email: str, password: str = PASSWORD, **kw):
    """Submit the sign-in form as a browser would."""
    return client.post_form("/sign-in", {"email": email, "password": password}, **kw)


@pytest.fixture
def mailbox(app):
    """The emails written by the file transport (no MAIL_SERVER in tests)."""

    def read() -> list:
        directory = Path(app.config["MAIL_FILE_DIR"])
        if not directory.exists():
            return []
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)
            for path in sorted(directory.glob("*.eml"))
        ]

    return read


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """A real OpenID provider (oidc-provider on Node), one for the whole session."""
    from tests.sso_support import start_provider

    provider = start_provider(tmp_path_factory.mktemp("oidc_provider"))
    yield provider
    provider.process.terminate()
    provider.process.wait(timeout=10)
