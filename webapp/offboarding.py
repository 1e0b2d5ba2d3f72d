"""Offboarding: what deactivating someone does, whoever does it (Edit user, a
SCIM client's PATCH `active: false` or DELETE).

The row stays (its audit trail, and its email, which no other firm can take
without an admin's action); the user loses access at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from webapp.models import PendingSignIn, User
from webapp.passwords import tokens as password_links


def end_access(session: Session, user: User, now: datetime) -> None:
    """Turn `user` off: every session ends now; pending sign-ins and emailed
    links (password reset, and invitations, which are the same links) are dropped.

    Sessions end as at "Sign out": the user's session version moves on, so
    every cookie of theirs, in any browser, names a version that no longer
    loads (`webapp.auth.sessions.load_user`). A half-done sign-in (password
    given, code due) is deleted, so it cannot be finished either. Password,
    recovery code and single sign-on all refuse an inactive user.
    """
    user.active = False
    user.invited_at = None  # no longer "Invited": the invitation's link is used up below
    user.session_version += 1
    session.add(user)
    session.execute(sa.delete(PendingSignIn).where(PendingSignIn.user_id == user.id))
    password_links.use_up(session, user, now)
