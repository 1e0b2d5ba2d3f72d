"""The new sign-in notice (README, "Sessions"): a sign-in from a browser and
address pair the user has not signed in from in 90 days is emailed to them.

Made for the sign-in's hot path: a known pair costs one indexed SELECT (and
an UPDATE at most once a day, keeping the pair remembered); only a new pair
is inserted and emailed. The insert skips a pair a racing sign-in inserted
first, so two at once email once. A first ever sign-in only remembers its pair
(one INSERT, no email). Pairs unseen for 90 days are purged (`@expires`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from webapp import outbox
from webapp.browser_sessions.models import ORIGIN_MEMORY, SignInOrigin
from webapp.browser_sessions.services import browser_of
from webapp.models import User

# `last_seen_at` moves on at most once a day (most sign-ins write nothing).
SEEN_STEP = timedelta(days=1)


def origin_key(browser: str, address: str) -> str:
    return hashlib.sha256(f"{browser}\n{address}".encode()).hexdigest()


def note_sign_in(
    session: Session, user: User, user_agent: str, address: str, now: datetime, *, first: bool
) -> None:
    """Remember where `user` signed in from; email them when the pair is new
    (`first`: their first ever sign-in, never emailed)."""
    browser = browser_of(user_agent)
    key = origin_key(browser, address)
    if not first:
        last_seen = session.exec(
            select(SignInOrigin.last_seen_at).where(
                SignInOrigin.user_id == user.id, SignInOrigin.origin_key == key
            )
        ).first()
        if last_seen is not None:
            if last_seen <= now - ORIGIN_MEMORY:  # not yet purged, but forgotten
                if seen_again(session, user, key, now, before=now - ORIGIN_MEMORY):
                    queue_notice(session, user, browser, address, key, now)
            elif last_seen <= now - SEEN_STEP:
                seen_again(session, user, key, now, before=now - SEEN_STEP)
            return
    if remember(session, user, key, now) and not first:
        queue_notice(session, user, browser, address, key, now)


def remember(session: Session, user: User, key: str, now: datetime) -> bool:
    """Insert the pair; False when a racing sign-in inserted it first."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SignInOrigin)
        .values(user_id=user.id, origin_key=key, last_seen_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "origin_key"])
        .returning(SignInOrigin.id)
    )
    return session.execute(statement).first() is not None


def seen_again(session: Session, user: User, key: str, now: datetime, *, before: datetime) -> bool:
    """Move the pair's last sighting on, if still older than `before` (False
    when a racing sign-in moved it first)."""
    return (
        session.execute(
            sa.update(SignInOrigin)
            .where(
                SignInOrigin.user_id == user.id,
                SignInOrigin.origin_key == key,
                SignInOrigin.last_seen_at <= before,
            )
            .values(last_seen_at=now)
        ).rowcount
        == 1
    )


def queue_notice(
    session: Session, user: User, browser: str, address: str, key: str, now: datetime
) -> None:
    outbox.queue_user_email(
        session,
        user,
        kind="new_sign_in",
        subject="New sign-in to your Firmguard account",
        template="new_sign_in",
        # One per pair and day: the pair is new at most once in 90 days anyway.
        dedupe_key=f"new_sign_in:{user.id}:{key}:{now.date().isoformat()}",
        when=now,
        browser=browser,
        address=address or "Unknown",
    )
