"""My Profile → "Where you're signed in", and Edit user's read-only copy with
"Sign out everywhere". Thin: the logic is in services."""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, url_for
from flask_login import current_user, login_required

from webapp.admin.forms import EditUserForm
from webapp.admin.user_edit import find_user
from webapp.auth import sessions
from webapp.auth.decorators import admin_required
from webapp.auth.step_up import step_up_required
from webapp.browser_sessions import services
from webapp.dialogs import render_dialog
from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.models import User, utcnow

bp = Blueprint("browser_sessions", __name__)

SIGNED_OUT_ONE = "Signed out that session."
SIGNED_OUT_OTHERS = "Signed out everywhere else."
SIGNED_OUT_HERE = "You have signed out."


def me() -> User:
    return current_user._get_current_object()


def answer(message: str):
    """The section again in place (htmx), else My Profile with the message."""
    if wants_fragment():
        return render_page(
            "mfa/profile.html",
            block="sessions_section",
            user=me(),
            system=sessions.current_system(),
            sessions_message=message,
        )
    flash(message, "info")
    return redirect(url_for("mfa.profile"))


@bp.route("/profile/sessions/<int:session_id>/sign-out", methods=["POST"])
@login_required
def sign_out_one(session_id: int):
    """ "Sign out" on one row: that browser is signed out at its next request."""
    if not services.end_one(db.session, me(), session_id, utcnow()):
        abort(404)
    if session_id != sessions.current_session_id():
        return answer(SIGNED_OUT_ONE)
    sessions.end_session()  # this browser's own row: signed out here only
    flash(SIGNED_OUT_HERE, "info")
    if wants_fragment():  # htmx follows a redirect itself: have the whole page go
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url_for("auth.sign_in")
        return response
    return redirect(url_for("auth.sign_in"))


@bp.route("/profile/sessions/sign-out-others", methods=["POST"])
@login_required
def sign_out_others():
    """ "Sign out everywhere else"."""
    services.end_others(db.session, me(), sessions.current_session_id(), utcnow())
    return answer(SIGNED_OUT_OTHERS)


@bp.route("/admin/users/<int:user_id>/sessions/sign-out", methods=["POST"])
@admin_required
@step_up_required(when=lambda user_id: admin_finds(user_id))
def sign_out_everywhere(user_id: int):
    """Edit user → "Sign out everywhere" (step-up, audited)."""
    user = find_user(db.session, current_user.system_id, user_id)
    if user is None:
        abort(404)  # not asked to step up first: nobody by that id in this firm
    services.end_all_by_admin(db.session, me(), user)
    message = f"Signed {user.display_name} out everywhere."
    if wants_fragment():
        return render_dialog(
            "admin/edit_user.html",
            "edit-user",
            section="users",
            **edit_user_context(user),
            sessions_message=message,
        )
    flash(message, "info")
    return redirect(url_for("admin.edit_user", user_id=user.id))


def admin_finds(user_id: int) -> bool:
    return find_user(db.session, current_user.system_id, user_id) is not None


def edit_user_context(user: User) -> dict:
    """What Edit user's template needs besides the sessions (its form)."""
    form = EditUserForm(obj=user)
    form.mfa_enabled.data = user.mfa_enabled
    return dict(user=user, form=form, system_requires_mfa=sessions.current_system().mfa_required)
