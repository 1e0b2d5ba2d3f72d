"""The failure counts themselves, in Redis and in the database (SQLite and
PostgreSQL): the same answers from both storages, every failure counted and
each lock set exactly once when many requests fail at the same moment, and
counts forgotten once over (retention deletes the database's rows)."""

from __future__ import annotations

import threading
from datetime import timedelta

import redis
import sqlalchemy as sa

from webapp.extensions import db
from webapp.limits import policy
from webapp.limits.counters import Policy
from webapp.models import FailureCount
from webapp.retention import steps

TEN = Policy(
    limit=10,
    window=timedelta(hours=1),
    lock_for=policy.doubling(timedelta(minutes=1), timedelta(minutes=4)),
    between_locks=10,
)


def fail(app, key: str, now, rule: Policy = TEN):
    with app.app_context():
        failure = policy.count_failure(key, rule, now)
        db.session.commit()
        return failure


def read(app, key: str, now):
    with app.app_context():
        return policy.read(key, now)


def test_failures_lock_with_growing_waits_then_are_forgotten(app, clock):
    now = clock.now
    results = [fail(app, "account:a", now) for _ in range(10)]
    assert [r.locked_now for r in results] == [False] * 9 + [True]
    assert read(app, "account:a", now).lock(now) == now + timedelta(minutes=1)
    # Locked: a failure is not counted (the attempt is not made).
    assert fail(app, "account:a", now).counted is False
    assert read(app, "account:b", now) is None  # keys are separate
    later = now + timedelta(minutes=1)
    assert [fail(app, "account:a", later).locked_now for _ in range(10)][-1] is True
    assert read(app, "account:a", later).lock(later) == later + timedelta(minutes=2)
    # The window over (and the lock too): nothing is left.
    assert read(app, "account:a", now + timedelta(hours=2)) is None
    with app.app_context():
        policy.storage().forget("account:a")
        db.session.commit()
    assert read(app, "account:a", later) is None


def test_simultaneous_failures_are_all_counted_and_lock_once(app, clock):
    """24 requests fail at once on one key: 10 are counted, one sets the lock,
    the others find it locked — whichever worker or storage they run on."""
    now, barrier, results = clock.now, threading.Barrier(12), []

    def request_thread():
        barrier.wait()
        for _ in range(2):
            results.append(fail(app, "address:password:203.0.113.9", now))

    threads = [threading.Thread(target=request_thread) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.counted for r in results) == 10
    assert sum(r.locked_now for r in results) == 1
    assert read(app, "address:password:203.0.113.9", now).lock_number == 1


def test_retention_deletes_counts_that_are_over(app, session, storage, clock):
    fail(app, "account:a", clock.now)
    if storage == "redis":
        # Redis forgets by itself: the key expires a little after the count.
        ttl = redis.Redis.from_url(app.config["REDIS_URL"]).pttl("firmguard:failures:account:a")
        assert timedelta(hours=1) < timedelta(milliseconds=ttl) <= timedelta(hours=1, minutes=5)
        return
    rows = sa.select(sa.func.count()).select_from(FailureCount)
    assert session.execute(rows).scalar_one() == 1
    with app.app_context():
        for _ in steps(db.session, clock.now + timedelta(minutes=59), app.config):
            db.session.commit()
        assert db.session.execute(rows).scalar_one() == 1  # not over yet
        for _ in steps(db.session, clock.now + timedelta(hours=1), app.config):
            db.session.commit()
        assert db.session.execute(rows).scalar_one() == 0
