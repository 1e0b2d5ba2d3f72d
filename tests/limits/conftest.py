"""The sign-in limits' tests: with the counts in Redis (a redis-server of this
session's own) or in the database, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests import mfa_support
from tests.servers import PrivateRedis, free_port

clock = mfa_support.clock  # the fixture, for every test here


@pytest.fixture(scope="session")
def limits_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["redis", "database"])
def storage(request) -> str:
    """Where the app keeps its failure counts."""
    return request.param


@pytest.fixture
def app_overrides(storage, request) -> dict:
    overrides = {"RATELIMIT_ENABLED": True}
    if "proxies" in request.fixturenames:
        overrides["TRUSTED_PROXIES"] = request.getfixturevalue("proxies")
    if "base_url" in request.fixturenames:
        overrides["BASE_URL"] = request.getfixturevalue("base_url")
    if storage == "redis":
        server = request.getfixturevalue("limits_redis")
        redis.Redis.from_url(server.url).flushdb()
        overrides["REDIS_URL"] = server.url
    return overrides
