"""Fault tests: a Redis and a PostgreSQL of the test's own, on free ports, that
the test may stop and restart without disturbing the shared services.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import PrivatePostgres, PrivateRedis, free_port


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A redis-server of this test's own (stopped at the end)."""
    redis = PrivateRedis(free_port())
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of this test's own, in a temporary cluster."""
    root = Path(tempfile.mkdtemp(prefix="firmguard-pg-"))
    data_dir = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    server = PrivatePostgres(free_port(), data_dir)
    server.init()
    server.start()
    yield server
    try:
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)
