"""The rows behind "Where you're signed in" (README, "Sessions").

A sign-in adds one row (`begin`); each request finds it with the user in one
indexed query (`webapp.auth.sessions.load_user`) and moves its last activity
on at most once a minute (`touch`). Signing one row out ends it and its
step-up proof on that browser's next request; everything that ends all of a
user's sessions (sign-out, a new password, an MFA reset, an admin's "Sign out
everywhere") moves the user's session version on instead, which ends every row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlmodel import Session, delete, select, update
from ua_parser import parse

from webapp import audit
from webapp.audit import Action
from webapp.browser_sessions.models import ACTIVITY_STEP, BrowserSession, idle_limit
from webapp.models import StepUpProof, User


def begin(session: Session, user: User, user_agent: str, address: str, now: datetime) -> int:
    """A new row for a browser just signed in: its id (one INSERT)."""
    row = BrowserSession(
        user_id=user.id,
        session_version=user.session_version,
        user_agent=user_agent[:512],
        address=address[:64],
        created_at=now,
        last_active_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def is_live(row: BrowserSession, user: User, now: datetime, settings: Mapping) -> bool:
    """Not signed out, under the user's session version, within both timeouts."""
    return (
        row.ended_at is None
        and row.session_version == user.session_version
        and row.last_active_at > now - idle_limit(settings)
        and row.created_at > now - settings["SESSION_ABSOLUTE_LIFETIME"]
    )


def touch(session: Session, row: BrowserSession, now: datetime) -> None:
    """Note activity, at most once a minute (most requests write nothing)."""
    if now - row.last_active_at >= ACTIVITY_STEP:
        row.last_active_at = now
        session.add(row)


def keep_version(session: Session, row: BrowserSession, user: User) -> None:
    """This row stays live under the user's new session version."""
    row.session_version = user.session_version
    session.add(row)


@lru_cache(maxsize=256)
def browser_of(user_agent: str) -> str:
    """ "Chrome on Windows", from a User-Agent (ua-parser's regexes)."""
    parsed = parse(user_agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Unknown browser"
    system = parsed.os.family if parsed.os else ""
    if browser == "Other":
        browser = "Unknown browser"
    return f"{browser} on {system}" if system and system != "Other" else browser


@dataclass(frozen=True)
class LiveSession:
    """One row of "Where you're signed in"."""

    id: int
    browser: str
    address: str
    signed_in_at: datetime
    last_active_at: datetime
    current: bool


def live_sessions(
    session: Session, user: User, now: datetime, settings: Mapping, current_id: int | None
) -> list[LiveSession]:
    """The user's live sessions, this one first, then the most recently active."""
    rows = session.exec(
        select(BrowserSession).where(
            BrowserSession.user_id == user.id,
            BrowserSession.session_version == user.session_version,
            BrowserSession.ended_at.is_(None),
            BrowserSession.last_active_at > now - idle_limit(settings),
            BrowserSession.created_at > now - settings["SESSION_ABSOLUTE_LIFETIME"],
        )
    ).all()
    found = [
        LiveSession(
            id=row.id,
            browser=browser_of(row.user_agent),
            address=row.address or "Unknown",
            signed_in_at=row.created_at,
            last_active_at=row.last_active_at,
            current=row.id == current_id,
        )
        for row in rows
    ]
    return sorted(found, key=lambda live: (not live.current, -live.last_active_at.timestamp()))


def end_one(session: Session, user: User, row_id: int, now: datetime) -> bool:
    """Sign out one of `user`'s sessions (and its step-up proof). False when it
    is not theirs or already over."""
    row = session.get(BrowserSession, row_id)
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return False
    row.ended_at = now
    session.add(row)
    session.exec(delete(StepUpProof).where(StepUpProof.browser_session_id == row.id))
    audit.record(
        session,
        Action.SESSION_SIGNED_OUT,
        actor=user,
        subject=user,
        browser=browser_of(row.user_agent),
        address=row.address,
    )
    return True


def end_others(session: Session, user: User, current_id: int, now: datetime) -> int:
    """ "Sign out everywhere else": every session of `user` but `current_id`
    (and their step-up proofs). How many were live."""
    ended = session.exec(
        update(BrowserSession)
        .where(
            BrowserSession.user_id == user.id,
            BrowserSession.id != current_id,
            BrowserSession.ended_at.is_(None),
        )
        .values(ended_at=now)
    ).rowcount
    session.exec(
        delete(StepUpProof).where(
            StepUpProof.user_id == user.id,
            (StepUpProof.browser_session_id != current_id)
            | StepUpProof.browser_session_id.is_(None),
        )
    )
    audit.record(session, Action.SESSIONS_SIGNED_OUT_ELSEWHERE, actor=user, subject=user)
    return ended


def end_all_by_admin(session: Session, admin: User, user: User) -> None:
    """Edit user → "Sign out everywhere": every session of `user` ends."""
    user.session_version += 1
    session.add(user)
    audit.record(session, Action.SESSIONS_SIGNED_OUT_BY_ADMIN, actor=admin, subject=user)
