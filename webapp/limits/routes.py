"""The ways through an account's password lock besides waiting: the owner's
emailed link, and an admin's "Clear sign-in lock" on Edit user. Thin: the
logic is in `webapp.limits.account_lock`."""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_template_attribute, redirect, url_for
from flask import session as browser_session
from flask_login import current_user

from webapp.admin.user_edit import find_user
from webapp.auth.decorators import admin_required
from webapp.dialogs import close_dialog
from webapp.extensions import db
from webapp.htmx import wants_fragment
from webapp.limits import account_lock
from webapp.models import utcnow
from webapp.sso.policy import policy_for

bp = Blueprint("limits", __name__)

LINK_READY = "Sign in with your password: this link lets you through the lock on your account once."
LINK_SPENT = (
    "This link has expired or was already used. Sign in as usual, or wait for the lock to end."
)


@bp.route("/sign-in/unlock/<token>")
def unlock(token: str):
    """The emailed link: this browser may pass the lock once (with the right password)."""
    if current_user.is_authenticated:
        return redirect(url_for("mfa.profile"))
    if account_lock.live_unlock(db.session, token[:100], utcnow()) is None:
        flash(LINK_SPENT, "error")
    else:
        # In the signed session only until the sign-in that uses it; the row,
        # not the cookie, decides whether it is still good.
        browser_session[account_lock.UNLOCK_KEY] = token
        flash(LINK_READY, "info")
    # Off the address bar (and out of any Referer) at once.
    return redirect(url_for("auth.sign_in"))


@bp.route("/admin/users/<int:user_id>/sign-in-lock", methods=["POST"])
@admin_required
def clear_lock(user_id: int):
    """Edit user → "Clear sign-in lock"."""
    user = find_user(db.session, current_user.system_id, user_id)
    if user is None:
        abort(404)
    now = utcnow()
    locked_until = account_lock.lock_of(user, now)
    if locked_until is None:
        message = f"{user.display_name}'s password sign-in is not locked."
    else:
        account_lock.clear(db.session, current_user, user, locked_until)
        message = f"Cleared the sign-in lock: {user.display_name} can sign in again."
    if wants_fragment():
        user_row = get_template_attribute("admin/_macros.html", "user_row")
        counts_sso = policy_for(db.session, current_user.system_id).counts_sso
        return close_dialog(message, parts=(user_row(user, now, counts_sso, oob=True),))
    flash(message, "info")
    return redirect(url_for("admin.edit_user", user_id=user.id))
