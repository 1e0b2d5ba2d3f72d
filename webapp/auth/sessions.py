"""Server-revocable sessions on top of Flask-Login.

The id Flask-Login keeps in the session is "<user id>:<session version>"
(its alternative-token pattern). Bumping a user's `session_version` (sign-out,
MFA reset, deactivation) makes every copy of every cookie of theirs invalid.
Idle timeout: the signed session cookie expires 30 minutes after the last
request and Flask refuses an older one. Absolute timeout: 12 hours after the
sign-in, whatever the activity.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g, session
from flask_login import LoginManager, current_user, login_user, logout_user

from webapp.extensions import db
from webapp.models import SignInMethod, System, User, utcnow

SIGNED_IN_AT = "signed_in_at"
SIGN_IN_METHOD = "sign_in_method"


def load_user(token: str) -> User | None:
    """Flask-Login's loader: the user only while the session version still matches."""
    user_id, _, version = token.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user


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
    session.clear()
    session.permanent = True
    session[SIGNED_IN_AT] = utcnow().timestamp()
    session[SIGN_IN_METHOD] = method.value
    login_user(user, remember=False)


def keep_this_session(user: User) -> None:
    """After the user's session version moved on (a password change here): this
    browser stays signed in, under the new version, with its sign-in time
    (the absolute timeout still counts from it) and method; the others end."""
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
