"""`GET /healthz`, for load balancers and monitors.

200 when the database answers (and Redis, when configured), else 503 naming
what is down. The body also carries the outbox backlog (oldest pending
email's age, failed emails): figures for monitoring, not a reason to take a
web node out of service. Cheap enough to call every few seconds: one
statement on the database (the backlog, from an index), a PING to Redis with
a one-second limit; no session cookie, sign-in, CSRF token or rate limit.
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, current_app, jsonify

from webapp import outbox
from webapp.extensions import db
from webapp.models import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
REDIS_TIMEOUT_SECONDS = 1.0


def redis_client() -> redis.Redis:
    """One client per app (its connection pool is reused between checks)."""
    clients = current_app.extensions.setdefault("firmguard_health_redis", {})
    url = current_app.config["REDIS_URL"]
    if url not in clients:
        clients[url] = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
    return clients[url]


@bp.route("/healthz")
def healthz():
    body: dict = {}
    down = []
    try:
        with db.engine.connect() as connection:
            body["outbox"] = outbox.backlog(connection, utcnow()).as_dict()
        body["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means the database is not answering
        log.warning("health check: database down", exc_info=True)
        body["database"] = "down"
        down.append("database")
    if current_app.config["REDIS_URL"]:
        try:
            redis_client().ping()
            body["redis"] = "ok"
        except redis.RedisError:
            log.warning("health check: redis down", exc_info=True)
            body["redis"] = "down"
            down.append("redis")
    else:
        body["redis"] = "not configured"
    body["status"] = "down" if down else "ok"
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200
