"""SCIM bearer tokens: made (shown once), revoked, checked, and counted.

A token is 256 random bits; only its SHA-256 is stored (`webapp.crypto`,
as for pending sign-ins), so a database leak gives no working token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from webapp import audit
from webapp.accounts import FieldError
from webapp.audit import Action
from webapp.crypto import new_token, token_hash
from webapp.health import redis_client
from webapp.models import ScimToken, System, User

MAX_NAME = 100
LAST_USED_STEP = timedelta(minutes=1)


def create_token(
    session: Session, system: System, *, name: str, admin: User | None, now: datetime
) -> tuple[ScimToken, str]:
    """A new token for `system`: the row, and the token itself (never stored)."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise FieldError("name", f"Give the token a name of 1 to {MAX_NAME} characters.")
    secret = new_token()
    token = ScimToken(
        system_id=system.id,
        name=name,
        token_hash=token_hash(secret),
        created_by_id=admin.id if admin else None,
        created_at=now,
    )
    session.add(token)
    session.flush()
    audit.record(
        session, Action.SCIM_TOKEN_CREATED, actor=admin, system=system, scim_token=name
    )
    return token, secret


def tokens_of(session: Session, system_id: int) -> list[ScimToken]:
    """The firm's tokens that still work, newest first."""
    return list(
        session.exec(
            select(ScimToken)
            .where(ScimToken.system_id == system_id, ScimToken.revoked_at.is_(None))
            .order_by(ScimToken.id.desc())
        )
    )


def revoke_token(session: Session, *, admin: User, token_id: int, now: datetime) -> ScimToken | None:
    """Revoke one of the admin's firm's tokens (None: no such live token there)."""
    token = session.get(ScimToken, token_id)
    if token is None or token.system_id != admin.system_id or token.revoked_at is not None:
        return None
    token.revoked_at = now
    session.add(token)
    audit.record(session, Action.SCIM_TOKEN_REVOKED, actor=admin, scim_token=token.name)
    return token


def authenticate(session: Session, bearer: str) -> ScimToken | None:
    """The live token whose hash matches `bearer`, else None."""
    if not bearer:
        return None
    return session.exec(
        select(ScimToken).where(
            ScimToken.token_hash == token_hash(bearer), ScimToken.revoked_at.is_(None)
        )
    ).first()


def count_request(session: Session, token: ScimToken, now: datetime) -> bool:
    """Count a request of `token`, and stamp its last use; False once it is over
    its limit this minute.

    With REDIS_URL the counter is Redis's (shared by every process, gone after
    two minutes) and "last used" is written at most once a minute, so a
    token's requests do not queue on its row. Without Redis (or while it is
    away) the count is the token's row: one conditional UPDATE, so
    simultaneous requests each count.
    """
    limit = current_app.config["SCIM_REQUESTS_PER_MINUTE"]
    minute = now.replace(second=0, microsecond=0)
    if current_app.config["REDIS_URL"]:
        key = f"firmguard:scim:{token.id}:{minute:%Y%m%d%H%M}"
        try:
            with redis_client().pipeline() as pipe:
                count, _ = pipe.incr(key).expire(key, 120).execute()
        except redis.RedisError:
            pass  # Redis away: the database counts
        else:
            if token.last_used_at is None or now - token.last_used_at >= LAST_USED_STEP:
                token.last_used_at = now
                session.add(token)
            return count <= limit
    table = ScimToken.__table__
    count = session.execute(
        sa.update(table)
        .where(table.c.id == token.id)
        .values(
            window_count=sa.case(
                (table.c.window_started_at == minute, table.c.window_count + 1), else_=1
            ),
            window_started_at=minute,
            last_used_at=now,
        )
        .returning(table.c.window_count)
    ).scalar_one()
    return count <= limit
