"""SCIM bearer tokens: made (shown once), revoked, checked, and counted.

A token is 256 random bits; only its SHA-256 is stored (`webapp.crypto`,
as for pending sign-ins), so a database leak gives no working token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlmodel import Session, select

from webapp import audit
from webapp.accounts import FieldError
from webapp.audit import Action
from webapp.crypto import new_token, token_hash
from webapp.limits.counters import Policy
from webapp.limits.policy import count_failure
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
    audit.record(session, Action.SCIM_TOKEN_CREATED, actor=admin, system=system, scim_token=name)
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


def revoke_token(
    session: Session, *, admin: User, token_id: int, now: datetime
) -> ScimToken | None:
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


def request_policy() -> Policy:
    """SCIM_REQUESTS_PER_MINUTE a minute per token; then a minute's wait."""
    return Policy(
        limit=current_app.config["SCIM_REQUESTS_PER_MINUTE"],
        window=timedelta(minutes=1),
        lock_for=lambda _: timedelta(minutes=1),
        between_locks=1,
    )


def count_request(session: Session, token: ScimToken, now: datetime) -> bool:
    """Count a request of `token`, and stamp its last use; False once it is over
    its limit.

    The count is the sign-in limits' counter (`webapp.limits`: Redis when
    REDIS_URL is set, else the database, never a worker's memory), keyed by
    the token. "Last used" is written at most once a minute, so a busy
    token's requests do not all write its row.
    """
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_STEP:
        token.last_used_at = now
        session.add(token)
    return count_failure(f"uses:scim:{token.id}", request_policy(), now).counted
