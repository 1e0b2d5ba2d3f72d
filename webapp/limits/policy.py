"""What is limited, and how much (README, "Sign-in limits").

- Per account (all addresses together): 10 wrong passwords in a row lock its
  password step for 1, 2, 4 … minutes, capped at an hour (`ACCOUNT`;
  `webapp.limits.account_lock` does the rest).
- Per address (all accounts together): 50 failed password steps in an hour,
  then every further failure locks the address for 1, 2, 4 … minutes, capped
  at 15 (`ADDRESS`); the code routes have the same budget of their own, for
  wrong codes. A success never counts, so an office behind one address signs
  in as often as it likes.

The client's address is the connection's, or with `TRUSTED_PROXIES` set, the
one the proxies in front put in `X-Forwarded-For` (Werkzeug's ProxyFix).
"""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import datetime, timedelta
from functools import wraps

import redis
from flask import Flask, abort, current_app, g, make_response, request
from flask import session as browser_session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.auth.pending import TOKEN_KEY as PENDING_TOKEN_KEY
from webapp.crypto import token_hash
from webapp.limits.counters import (
    Count,
    DatabaseStorage,
    Failure,
    Policy,
    RedisStorage,
    after_failure,
    current,
)
from webapp.model_base import utcnow


def doubling(base: timedelta, cap: timedelta):
    """1, 2, 4 … times `base` for the 1st, 2nd, 3rd … lock, capped."""
    return lambda lock_number: min(base * 2 ** (lock_number - 1), cap)


ACCOUNT = Policy(
    limit=10,
    window=timedelta(hours=24),
    lock_for=doubling(timedelta(minutes=1), timedelta(hours=1)),
    between_locks=10,
)
ADDRESS = Policy(
    limit=50,
    window=timedelta(hours=1),
    lock_for=doubling(timedelta(minutes=1), timedelta(minutes=15)),
    between_locks=1,
)
# Calls of a route that writes a row each time (a passkey challenge), per
# signed-in user or pending sign-in: 30 a minute.
PER_MINUTE = Policy(
    limit=30,
    window=timedelta(minutes=1),
    lock_for=lambda _: timedelta(minutes=1),
    between_locks=1,
)


def guesses_in_an_hour(policy: Policy = ACCOUNT) -> int:
    """The most failures one key can have in its first hour (the README's figure):
    the first hour is the worst, as the waits only grow."""
    elapsed, guesses, lock_number = timedelta(0), policy.limit, 1
    while True:
        elapsed += policy.lock_for(lock_number)
        if elapsed >= timedelta(hours=1):
            return guesses
        guesses += policy.between_locks
        lock_number += 1


# --- where the counts are kept ----------------------------------------------


def init_app(app: Flask) -> None:
    """Trust the configured proxies, and keep counts in Redis or the database."""
    from webapp.extensions import db

    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if not isinstance(proxies, int) or proxies < 0:
        raise RuntimeError("TRUSTED_PROXIES must be a whole number, 0 or more.")
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    in_database = DatabaseStorage(lambda: db.session)
    url = app.config.get("REDIS_URL")
    if url:
        # Short timeouts: with Redis away, a sign-in falls back to the database
        # at once instead of waiting.
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        app.extensions["failure_counts"] = RedisStorage(client, in_database, utcnow)
    else:
        app.extensions["failure_counts"] = in_database


def storage() -> RedisStorage | DatabaseStorage:
    return current_app.extensions["failure_counts"]


def enabled() -> bool:
    return bool(current_app.config["RATELIMIT_ENABLED"])


def read(key: str, now: datetime) -> Count | None:
    return current(storage().read([key])[0], now)


def count_failure(key: str, policy: Policy, now: datetime) -> Failure:
    """Count one failure (or use) of `key`; if it is locked, nothing."""
    outcome: list[Failure] = []

    def change(count: Count | None) -> Count | None:
        outcome.append(after_failure(count, policy, now))
        return outcome[-1].count if outcome[-1].counted else count

    storage().change(key, change)
    return outcome[-1]


# --- keys -------------------------------------------------------------------


def account_key(email: str) -> str:
    """An account's key, from its email (an unknown email has one too, so it
    locks like a real one and a lock tells nobody that the account exists)."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]
    return f"account:{digest}"


def client_address() -> str:
    """The client's address; for IPv6 its /64, which one household or office holds."""
    address = request.remote_addr or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:60]
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def address_key(scope: str) -> str:
    return f"address:{scope}:{client_address()}"


def address_locked(scope: str, now: datetime) -> bool:
    """Whether this request's address is locked in `scope` (never, limits off)."""
    if not enabled():
        return False
    count = read(address_key(scope), now)
    return count is not None and count.lock(now) is not None


def count_address_failure(scope: str, now: datetime) -> None:
    """One failure of this request's address in `scope` (a wrong code …)."""
    if enabled():
        count_failure(address_key(scope), ADDRESS, now)


def limit_address(scope: str):
    """Route decorator: POSTs from an address locked in `scope` get 429 without
    being looked at; a POST answered 422 (a wrong password or code, an unknown
    email, a form with errors) counts as a failure of the address. Every other
    answer, a sign-in above all, counts nothing."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method != "POST" or not enabled():
                return view(*args, **kwargs)
            now = utcnow()
            if address_locked(scope, now):
                abort(429)
            response = make_response(view(*args, **kwargs))
            if response.status_code == 422 or g.pop(FAILED, False):
                count_address_failure(scope, now)
            return response

        return wrapped

    return decorate


FAILED = "limits_failed"


def note_failure() -> None:
    """For a view whose failure is not answered 422 (a redirect back with a message)."""
    g.setdefault(FAILED, True)


def limit_per_user(scope: str):
    """Route decorator: at most `PER_MINUTE` calls per signed-in user (or pending
    sign-in), else 429 — never per address, which a whole office shares."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if enabled():
                if current_user.is_authenticated:
                    whose = f"user:{current_user.id}"
                else:
                    pending = browser_session.get(PENDING_TOKEN_KEY)
                    whose = f"pending:{token_hash(str(pending))[:32]}"
                if not count_failure(f"uses:{scope}:{whose}", PER_MINUTE, utcnow()).counted:
                    abort(429)
            return view(*args, **kwargs)

        return wrapped

    return decorate
