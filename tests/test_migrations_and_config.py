"""App factory, config rules, and migrations that match the models."""

from __future__ import annotations

import zoneinfo
from importlib.metadata import version

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from config import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, settings_from_environment
from tests.conftest import private_postgres_database
from webapp import accounts, create_app, user_search
from webapp.admin import user_list
from webapp.cli import alembic_config
from webapp.countries import COUNTRIES
from webapp.extensions import db
from webapp.models import System, UTCDateTime, search_key, utcnow

STRONG_SECRET = "kR7vQ2xLp9sT4wZ1mN8bY3cF6hJ0dG5a"
STRONG_KEY = "bmV3LWtleS1mb3ItcHJvZHVjdGlvbi11c2UtMDAwMDA="


@pytest.fixture
def empty_database_url(db_backend, tmp_path):
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.sqlite'}"
        return
    with private_postgres_database("firmguard_migrate") as url:
        yield url


def test_migrations_upgrade_from_empty_and_match_the_models(empty_database_url):
    app = create_app("testing", {"DATABASE_URL": empty_database_url})
    with app.app_context():
        command.upgrade(alembic_config(), "heads")
    engine = sa.create_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": user_search.include_name}
            ),
            SQLModel.metadata,
        )
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert diff == []
    assert {"systems", "users", "totp_credentials", "outbound_emails"} <= tables


def test_users_from_before_the_search_index_are_found_and_it_can_be_undone(empty_database_url):
    app = create_app("testing", {"DATABASE_URL": empty_database_url})
    with app.app_context():
        command.upgrade(alembic_config(), "0002_admin")
        # The firm and its user as that schema holds them (the models describe the newest).
        system_id = db.session.execute(
            sa.text(
                "INSERT INTO systems (name, country, timezone, accounting_link, mfa_required,"
                " mfa_grace_days, created_at) VALUES ('Ngata Law', 'NZ', 'Pacific/Auckland',"
                " 'none', false, 0, CURRENT_TIMESTAMP) RETURNING id"
            )
        ).scalar_one()
        insert_user_as_of_0002(system_id, "ana@firm.example", "Ana Ngata")
        db.session.commit()
        db.session.close()

        command.upgrade(alembic_config(), "heads")
        assert names(system_id, "ngata") == ["Ana Ngata"]  # indexed by the upgrade
        system = db.session.get(System, system_id)
        accounts.create_user(
            db.session, system, email="rua@firm.example", name="Rua Ngata", password="p" * 12
        )
        db.session.commit()
        assert names(system_id, "ngata") == ["Ana Ngata", "Rua Ngata"]  # and by its trigger

        command.downgrade(alembic_config(), "0002_admin")
        tables = set(sa.inspect(db.engine).get_table_names())
        command.upgrade(alembic_config(), "heads")
        assert names(system_id, "ngata") == ["Ana Ngata", "Rua Ngata"]
        db.engine.dispose()
    assert not any(name.startswith(user_search.FTS_TABLE) for name in tables)  # undone


# The users table as 0002_admin left it (today's model has columns added since).
USERS_0002 = sa.table(
    "users",
    *(
        sa.column(name)
        for name in (
            "system_id", "email", "display_name", "search_key", "password_hash", "role",
            "active", "session_version", "mfa_enabled", "mfa_failed_count", "mfa_lock_count",
        )
    ),
    sa.column("created_at", UTCDateTime()),
)


def insert_user_as_of_0002(system_id: int, email: str, name: str) -> None:
    db.session.execute(
        USERS_0002.insert().values(
            system_id=system_id, email=email, display_name=name,
            search_key=search_key(name, email), password_hash="x", role="user", active=True,
            session_version=1, mfa_enabled=False, mfa_failed_count=0, mfa_lock_count=0,
            created_at=utcnow(),
        )
    )


def names(system_id: int, q: str) -> list[str]:
    """What the users list shows for search `q` (inside an app context)."""
    page = user_list.list_users(db.session, system_id, user_list.UserFilter(q=q))
    db.session.close()
    return [row.display_name for row in page.rows]


def test_production_refuses_the_dev_secret_key():
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(
            "production", {"SECRET_KEY": DEV_SECRET_KEY, "MFA_ENCRYPTION_KEYS": [STRONG_KEY]}
        )


def test_production_refuses_the_dev_encryption_key():
    with pytest.raises(RuntimeError, match="MFA_ENCRYPTION_KEYS"):
        create_app(
            "production", {"SECRET_KEY": STRONG_SECRET, "MFA_ENCRYPTION_KEYS": [DEV_ENCRYPTION_KEY]}
        )


def test_production_starts_with_real_secrets_and_secure_cookies():
    app = create_app(
        "production",
        {
            "SECRET_KEY": STRONG_SECRET,
            "MFA_ENCRYPTION_KEYS": [STRONG_KEY],
            "DATABASE_URL": "postgresql+psycopg://root@127.0.0.1:5432/test",
        },
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_dev_defaults_need_no_environment(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "MAIL_SERVER", "MFA_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    app = create_app("development")
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert app.config["DATABASE_URL"].endswith("instance/firmguard.sqlite")
    assert app.extensions["failure_counts"].__class__.__name__ == "DatabaseStorage"
    assert app.config["CELERY"]["task_always_eager"] is True


def test_environment_settings_are_parsed():
    settings = settings_from_environment(
        {
            "MAIL_PORT": "2525",
            "MAIL_USE_TLS": "true",
            "MFA_ENCRYPTION_KEYS": "a, b",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "SECRET_KEY": "",
        }
    )
    assert settings == {
        "MAIL_PORT": 2525,
        "MAIL_USE_TLS": True,
        "MFA_ENCRYPTION_KEYS": ["a", "b"],
        "REDIS_URL": "redis://127.0.0.1:6379/3",
    }


def test_redis_url_drives_broker_and_failure_count_storage():
    app = create_app("testing", {"REDIS_URL": "redis://127.0.0.1:6379/9"})
    assert app.extensions["failure_counts"].__class__.__name__ == "RedisStorage"
    assert app.config["CELERY"]["broker_url"] == "redis://127.0.0.1:6379/9"
    assert app.config["CELERY"]["task_always_eager"] is False


def test_unknown_environment_name_is_refused():
    with pytest.raises(RuntimeError, match="Unknown FIRMGUARD_ENV"):
        create_app("staging")


def test_timezones_and_countries_come_from_the_tzdata_package(app):
    assert zoneinfo.TZPATH == ()  # not the operating system's files
    assert zoneinfo.ZoneInfo("Pacific/Auckland").key == "Pacific/Auckland"
    assert version("tzdata")
    assert (COUNTRIES["NZ"], COUNTRIES["AU"], COUNTRIES["GB"]) == (
        "New Zealand",
        "Australia",
        "Britain (UK)",
    )
    assert len(COUNTRIES) >= 249


def test_the_instance_folder_is_firmguard_instance_else_the_current_directorys(
    monkeypatch, tmp_path
):
    for name in ("DATABASE_URL", "MAIL_FILE_DIR", "FIRMGUARD_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    app = create_app("development")
    assert app.instance_path == str(tmp_path / "instance")
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'firmguard.sqlite'}"
    assert app.config["MAIL_FILE_DIR"] == str(tmp_path / "instance" / "mail")

    monkeypatch.setenv("FIRMGUARD_INSTANCE", str(tmp_path / "var"))
    app = create_app("development")
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'var' / 'firmguard.sqlite'}"
    assert app.config["MAIL_FILE_DIR"] == str(tmp_path / "var" / "mail")
