"""Failure counts (README, "Sign-in limits"): how many wrong passwords or codes
a key (an account, an address) has had, and whether it is locked.

Only failures are counted, never successes. The counts live in Redis when
`REDIS_URL` is set and in the database otherwise (the `failure_counts` table,
written in the request's transaction) — never in a process's memory, where
each gunicorn worker would keep a count of its own. Both storages offer the
same three operations (`read`, `change`, `forget`); the rules (`Policy`,
`after_failure`) are written once, here, for both.

A change is a read, then a write only if nobody wrote the key in between
(Redis WATCH/MULTI; in the database an UPDATE on the row's version); a lost
race reads again. So parallel requests, on any worker, count every failure
and exactly one of them sets each lock. If Redis cannot be reached, the
database keeps counting meanwhile instead of failing the request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from webapp.limits.models import FailureCount

log = logging.getLogger(__name__)

REDIS_PREFIX = "firmguard:failures:"
# Redis forgets a key a little after the count itself says it is over (the
# app's clock, not Redis's, decides what is over).
REDIS_SLACK = timedelta(minutes=5)
RETRIES = 50


@dataclass(frozen=True)
class Policy:
    """When failures lock a key, and for how long.

    `limit` failures within `window` (counted from the window's first failure)
    lock the key for `lock_for(lock_number)`; after the first lock, every
    `between_locks` further failures lock it again (the lock number grows).
    When the window is over, the count starts again from nothing.
    """

    limit: int
    window: timedelta
    lock_for: Callable[[int], timedelta]
    between_locks: int


@dataclass(frozen=True)
class Count:
    """A key's failures in its current window, and its lock."""

    failures: int = 0
    window_ends: datetime | None = None
    lock_number: int = 0
    locked_until: datetime | None = None

    @property
    def expires_at(self) -> datetime:
        """When the count is over: its window ended and its lock too."""
        ends = [moment for moment in (self.window_ends, self.locked_until) if moment]
        return max(ends) if ends else datetime.min.replace(tzinfo=UTC)

    def lock(self, now: datetime) -> datetime | None:
        """When the key's lock ends, or None if it is not locked now."""
        if self.locked_until is not None and self.locked_until > now:
            return self.locked_until
        return None

    def as_json(self) -> str:
        return json.dumps(
            {
                "failures": self.failures,
                "window_ends": _stamp(self.window_ends),
                "lock_number": self.lock_number,
                "locked_until": _stamp(self.locked_until),
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Count:
        fields = json.loads(text)
        return cls(
            failures=fields["failures"],
            window_ends=_moment(fields["window_ends"]),
            lock_number=fields["lock_number"],
            locked_until=_moment(fields["locked_until"]),
        )


def _stamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


def _moment(stamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp is not None else None


def current(count: Count | None, now: datetime) -> Count | None:
    """`count` unless it is over (a stored count may outlive its end a little)."""
    return count if count is not None and count.expires_at > now else None


@dataclass(frozen=True)
class Failure:
    """What counting one failure did."""

    count: Count
    counted: bool  # False: the key was locked, so the attempt was not even made
    locked_now: bool  # this failure set a lock (exactly one failure sets each)


def after_failure(count: Count | None, policy: Policy, now: datetime) -> Failure:
    """The count after one more failure at `now` (pure: the storages apply it)."""
    count = current(count, now) or Count()
    if count.lock(now):
        return Failure(count, counted=False, locked_now=False)
    if count.window_ends is None or count.window_ends <= now:
        count = Count(window_ends=now + policy.window)
    failures = count.failures + 1
    needed = policy.limit if count.lock_number == 0 else policy.between_locks
    if failures < needed:
        return Failure(replace(count, failures=failures), counted=True, locked_now=False)
    lock_number = count.lock_number + 1
    locked = replace(
        count,
        failures=0,
        lock_number=lock_number,
        locked_until=now + policy.lock_for(lock_number),
    )
    return Failure(locked, counted=True, locked_now=True)


# --- the storages -----------------------------------------------------------

# Given the key's count (None: none yet), the count to write (None: forget the
# key); the very count it was given: nothing to write.
Change = Callable[[Count | None], Count | None]


class DatabaseStorage:
    """Counts in the `failure_counts` table, in the caller's transaction."""

    def __init__(self, session_for: Callable[[], Session]) -> None:
        self.session_for = session_for

    def read(self, keys: list[str]) -> list[Count | None]:
        table = FailureCount.__table__
        rows = self.session_for().execute(sa.select(table).where(table.c.key.in_(keys))).mappings()
        found = {row["key"]: _count_of(row) for row in rows}
        return [found.get(key) for key in keys]

    def change(self, key: str, change: Change) -> Count | None:
        session = self.session_for()
        table = FailureCount.__table__
        for _ in range(RETRIES):
            row = session.execute(sa.select(table).where(table.c.key == key)).mappings().first()
            old = _count_of(row) if row else None
            new = change(old)
            if new is old:
                return new
            if new is None:
                if row is not None:
                    session.execute(sa.delete(table).where(table.c.id == row["id"]))
                return None
            values = _row_values(new)
            if row is None:
                insert = _insert(session).values(key=key, version=1, **values)
                # RETURNING, as an ORM session reports no row count for an INSERT.
                inserted = insert.on_conflict_do_nothing().returning(table.c.id)
                written = len(session.execute(inserted).all())
            else:
                written = session.execute(
                    sa.update(table)
                    .where(table.c.id == row["id"], table.c.version == row["version"])
                    .values(version=row["version"] + 1, **values)
                ).rowcount
            if written == 1:
                return new
        raise RuntimeError(f"failure count {key!r}: too many concurrent changes")

    def forget(self, key: str) -> None:
        table = FailureCount.__table__
        self.session_for().execute(sa.delete(table).where(table.c.key == key))


def _insert(session: Session):
    table = FailureCount.__table__
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _count_of(row) -> Count:
    return Count(
        failures=row["failures"],
        window_ends=row["window_ends"],
        lock_number=row["lock_number"],
        locked_until=row["locked_until"],
    )


def _row_values(count: Count) -> dict:
    return {
        "failures": count.failures,
        "window_ends": count.window_ends,
        "lock_number": count.lock_number,
        "locked_until": count.locked_until,
        "expires_at": count.expires_at,
    }


class RedisStorage:
    """Counts in Redis (one JSON value per key); the database while Redis is away."""

    def __init__(self, client: redis.Redis, fallback: DatabaseStorage, clock) -> None:
        self.client = client
        self.fallback = fallback
        self.clock = clock

    def read(self, keys: list[str]) -> list[Count | None]:
        try:
            values = self.client.mget([REDIS_PREFIX + key for key in keys])
        except redis.RedisError as error:
            log.warning("failure counts: Redis unavailable (%s); using the database", error)
            return self.fallback.read(keys)
        return [Count.from_json(value) if value else None for value in values]

    def change(self, key: str, change: Change) -> Count | None:
        name = REDIS_PREFIX + key
        try:
            for _ in range(RETRIES):
                with self.client.pipeline() as pipe:
                    try:
                        pipe.watch(name)
                        value = pipe.get(name)
                        old = Count.from_json(value) if value else None
                        new = change(old)
                        if new is old:
                            pipe.unwatch()
                            return new
                        pipe.multi()
                        if new is None:
                            pipe.delete(name)
                        else:
                            ttl = new.expires_at - self.clock() + REDIS_SLACK
                            milliseconds = max(1, int(ttl / timedelta(milliseconds=1)))
                            pipe.set(name, new.as_json(), px=milliseconds)
                        pipe.execute()
                        return new
                    except redis.WatchError:
                        continue
        except redis.RedisError as error:
            log.warning("failure counts: Redis unavailable (%s); using the database", error)
            return self.fallback.change(key, change)
        raise RuntimeError(f"failure count {key!r}: too many concurrent changes")

    def forget(self, key: str) -> None:
        try:
            self.client.delete(REDIS_PREFIX + key)
        except redis.RedisError as error:
            log.warning("failure counts: Redis unavailable (%s); using the database", error)
        # A count kept in the database while Redis was away goes too.
        self.fallback.forget(key)
