"""Server-revocable sessions on top of Flask-Login.

The id Flask-Login keeps in the session is "<user id>:<session version>"
(its alternative-token pattern). Bumping a user's `session_version` (sign-out,
MFA reset, deactivation) makes every copy of every cookie of theirs invalid.
Idle timeout: the signed session cookie expires 30 minutes after the last
request and Flask refuses an older one. Absolute timeout: 12 hours after the
sign-in, whatever the activity.

The session also names its row of `browser_sessions` ("Where you're signed
in"), read with the user in one query: a row signed out on its own, or past a
timeout, ends this browser's session alone.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g, request, session
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlmodel import select

from webapp.browser_sessions import services as browser_sessions
from webapp.extensions import db
from webapp.models import BrowserSession, SignInMethod, System, User, utcnow

SIGNED_IN_AT = "signed_in_at"
SIGN_IN_METHOD = "sign_in_method"
BROWSER_SESSION = "browser_session"  # this browser's row of browser_sessions


def load_user(token: str) -> User | None:
    """Flask-Login's loader: the user only while the session version still
    matches and this browser's session row is live (one query)."""
    user_id, _, version = token.partition(":")
    row_id = session.get(BROWSER_SESSION)
    if not (user_id.isdigit() and version.isdigit() and isinstance(row_id, int)):
        return None
    found = db.session.exec(
        select(User, BrowserSession)
        .join(BrowserSession, BrowserSession.user_id == User.id)
        .where(User.id == int(user_id), BrowserSession.id == row_id)
    ).first()
    if found is None:
        return None
    user, row = found
    now = utcnow()
    if (
        not user.active
        or user.session_version != int(version)
        or not browser_sessions.is_live(row, user, now, current_app.config)
    ):
        return None
    browser_sessions.touch(db.session, row, now)
    g.browser_session = row
    return user


def current_session_id() -> int | None:
    """This browser's row of browser_sessions, when signed in."""
    row = g.get("browser_session") if current_user.is_authenticated else None
    return row.id if row is not None else None


def current_system() -> System:
    """The signed-in user's firm, loaded once per request.

    Kept on `g`: the session's identity map holds an object only while
    something references it, so a second `session.get` would query again.
    """
    if "current_system" not in g:
        g.current_system = db.session.get(System, current_user.system_id)
    return g.current_system


def init_login_manager(manager: LoginManager) -> None:
    manager.user_loader(load_user)
    manager.login_view = "auth.sign_in"
    manager.login_message = "Please sign in to continue."
    manager.login_message_category = "info"


def start_session(user: User, method: SignInMethod = SignInMethod.PASSWORD) -> None:
    """Sign `user` in on a fresh session (nothing from before survives)."""
    now = utcnow()
    session.clear()
    session.permanent = True
    session[SIGNED_IN_AT] = now.timestamp()
    session[SIGN_IN_METHOD] = method.value
    session[BROWSER_SESSION] = browser_sessions.begin(
        db.session,
        user,
        request.headers.get("User-Agent", ""),
        request.remote_addr or "",
        now,
    )
    login_user(user, remember=False)


def keep_this_session(user: User) -> None:
    """After the user's session version moved on (a password change here): this
    browser stays signed in, under the new version, with its sign-in time
    (the absolute timeout still counts from it), method and row; the others end."""
    row = g.get("browser_session")
    if row is not None:
        browser_sessions.keep_version(db.session, row, user)
    login_user(user, remember=False)


def sign_in_method() -> str:
    """How this session was signed in (a SignInMethod value)."""
    return session.get(SIGN_IN_METHOD, SignInMethod.PASSWORD.value)


def end_session() -> None:
    """Forget the signed-in user in this browser (the caller ends the others)."""
    logout_user()
    session.clear()


def enforce_absolute_lifetime() -> None:
    """End a session 12 hours after its sign-in, however active."""
    started = session.get(SIGNED_IN_AT)
    if started is None:
        return
    age = utcnow() - datetime.fromtimestamp(started, tz=utcnow().tzinfo)
    if age > current_app.config["SESSION_ABSOLUTE_LIFETIME"]:
        logout_user()
        session.clear()


def init_app(app: Flask) -> None:
    app.before_request(enforce_absolute_lifetime)
