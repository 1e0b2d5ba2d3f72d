"""What every table builds on: named constraints, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Named constraints, so Alembic can alter them on SQLite (batch mode) and PostgreSQL alike.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A DateTime that only accepts aware values and always returns UTC-aware ones."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False, default=None) -> sa.Column:
    """A UTCDateTime column (a new Column each call, as SQLModel needs)."""
    return sa.Column(UTCDateTime(), nullable=nullable, index=index, default=default)


def partial_index(name: str, columns: tuple[str, ...], where: str, sqlite: str = "") -> sa.Index:
    """An index of the rows matching `where` (SQLite spells a true boolean `= 1`)."""
    return sa.Index(
        name, *columns, postgresql_where=sa.text(where), sqlite_where=sa.text(sqlite or where)
    )
