"""Users & permissions → "Send reminder" (a user's row, Edit user) and "Remind
everyone without MFA": the MFA reminder email at once, at most one per user
per local day (`webapp.reminders.remind_now`). Thin: the words are here, the
work in the service.

"Remind everyone without MFA" emails many people in the admin's name, so it
needs a fresh "Confirm it's you" (`step_up_required`, README "Step-up").
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, get_template_attribute, redirect, request, url_for
from flask_login import current_user

from webapp import reminders, timefmt
from webapp.admin.routes import users_url
from webapp.admin.user_edit import find_user
from webapp.auth.decorators import admin_required
from webapp.auth.sessions import current_system
from webapp.auth.step_up import step_up_required
from webapp.dialogs import close_dialog
from webapp.extensions import db
from webapp.htmx import wants_fragment
from webapp.models import User, utcnow
from webapp.security import MAX_ROW_ID, ascii_int
from webapp.sso.policy import policy_for

bp = Blueprint("reminders", __name__, url_prefix="/admin/reminders")

# Where a form without JavaScript goes back to: Edit user's page, else the list.
BACK_TO_EDIT = "edit"


def back(user: User | None = None):
    """Back where the form was: Edit user's page, or the list with its filters."""
    where = request.form.get("back", "")
    if where == BACK_TO_EDIT and user is not None:
        return redirect(url_for("admin.edit_user", user_id=user.id))
    # Only a query string of the list (never another address).
    query = where if where and not where.startswith(("/", "\\")) and ":" not in where else ""
    return redirect(users_url(query[:1000]))


def remind_one(user: User) -> str:
    """Remind `user` now unless they need no reminder; say what happened."""
    system = current_system()
    sso_policy = policy_for(db.session, system.id)
    name = user.display_name
    if not user.active:
        return f"{name} is inactive: no reminder sent."
    if user.mfa_enabled or sso_policy.coverage(user.last_sign_in_method).requirement:
        return f"{name} already has MFA: no reminder sent."
    now = utcnow()
    sent = reminders.remind_now(
        db.session,
        admin=current_user,
        system=system,
        now=now,
        counts_sso=sso_policy.counts_sso,
        user=user,
    )
    db.session.refresh(user)  # the stamp, this request's or an earlier one's
    if sent:
        return f"Reminder sent to {name}."
    when = timefmt.firm_time(user.last_mfa_reminder_at, system.timezone, timefmt.STYLES["time"])
    return f"{name} was already reminded today, at {when}. A user gets at most one reminder a day."


@bp.route("", methods=["POST"])
@admin_required
def remind():
    user_id = ascii_int(request.form.get("user", ""))
    if user_id is None or user_id > MAX_ROW_ID:
        abort(400)  # not a user's id at all
    user = find_user(db.session, current_user.system_id, user_id)
    if user is None:
        abort(404)  # not a user of the admin's firm
    message = remind_one(user)
    if wants_fragment():
        # The row (and Edit user, if it is open) shows when the reminder went.
        user_row = get_template_attribute("admin/_macros.html", "user_row")
        counts_sso = policy_for(db.session, current_user.system_id).counts_sso
        return close_dialog(message, parts=(user_row(user, utcnow(), counts_sso, oob=True),))
    flash(message, "info")
    return back(user)


@bp.route("/everyone", methods=["POST"])
@admin_required
@step_up_required
def remind_everyone():
    system = current_system()
    sent = reminders.remind_now(
        db.session,
        admin=current_user,
        system=system,
        now=utcnow(),
        counts_sso=policy_for(db.session, system.id).counts_sso,
    )
    if sent:
        flash(f"Reminder sent to {sent:,} {'user' if sent == 1 else 'users'} without MFA.", "info")
    else:
        flash("Everyone without MFA was already reminded today: no reminder sent.", "info")
    return back()
