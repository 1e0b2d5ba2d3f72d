"""A database of one benchmark run, made empty and dropped after: a SQLite file
in a temporary directory, or a PostgreSQL database of its own on the server
`FIRMGUARD_BENCH_PG` names (its admin URL; default the local trust server).
Runs in Firmguard's venv (psycopg comes with the project)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN_URL = os.environ.get("FIRMGUARD_BENCH_PG", "postgresql://root@127.0.0.1:5432/postgres")


@contextmanager
def scratch_database(backend: str, name: str) -> Iterator[str]:
    """The SQLAlchemy URL of an empty database (`backend` "sqlite" or "postgresql")."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.sqlite"
        return
    server = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
