"""Users & permissions → "Add user" (a dialog; a page without JavaScript), and
an invited user's row: "Resend invitation", "Revoke invitation". Thin: the
logic is in `webapp.admin.invitations`. Routes of the admin blueprint
(endpoints `admin.*`); each change needs a fresh "Confirm it's you".
"""

from __future__ import annotations

from flask import abort, flash, get_template_attribute, redirect, request, url_for
from flask_login import current_user

from webapp.accounts import FieldError
from webapp.admin import invitations
from webapp.admin.forms import AddUserForm
from webapp.admin.reminders import back
from webapp.admin.routes import bp
from webapp.admin.user_edit import find_user
from webapp.auth.decorators import admin_required
from webapp.auth.step_up import step_up_required
from webapp.dialogs import close_dialog, render_dialog
from webapp.extensions import db
from webapp.htmx import wants_fragment
from webapp.models import utcnow
from webapp.sso.policy import policy_for


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
@step_up_required
def add_user():
    form = AddUserForm()
    if form.validate_on_submit():
        try:
            user = invitations.invite(
                db.session,
                admin=current_user,
                email=form.email.data,
                display_name=form.display_name.data,
                role=form.role.data,
                now=utcnow(),
            )
        except FieldError as error:
            getattr(form, error.field).errors = [str(error)]
        else:
            flash(f"Invitation sent to {user.email}.", "info")
            if wants_fragment():
                # The new row's place depends on the list's sort and filter:
                # the list reloads (keeping them) and shows the message.
                response = close_dialog()
                response.headers["HX-Refresh"] = "true"
                return response
            return redirect(url_for("admin.users"))
    status = 422 if request.method == "POST" else 200
    return render_dialog(
        "admin/add_user.html", "add-user", status=status, section="users", form=form
    )


def row_of(user) -> str:
    """The user's row of the list, to put in place (htmx, out of band)."""
    user_row = get_template_attribute("admin/_macros.html", "user_row")
    counts_sso = policy_for(db.session, current_user.system_id).counts_sso
    return user_row(user, utcnow(), counts_sso, oob=True)


def own_user(user_id: int) -> bool:
    """Whether the id is a user of the admin's firm: only then the step-up
    (another firm's id is answered 404, as unknown, before anything else)."""
    return find_user(db.session, current_user.system_id, user_id) is not None


def invitation_change(user_id: int, change, done: str):
    user = find_user(db.session, current_user.system_id, user_id)
    if user is None:
        abort(404)
    try:
        change(db.session, admin=current_user, user=user, now=utcnow())
    except FieldError as error:
        message = str(error)
    else:
        message = done.format(name=user.display_name, email=user.email)
    if wants_fragment():
        return close_dialog(message, parts=(row_of(user),))
    flash(message, "info")
    return back(user)


@bp.route("/users/<int:user_id>/invitation/resend", methods=["POST"])
@admin_required
@step_up_required(when=own_user)
def resend_invitation(user_id: int):
    return invitation_change(
        user_id,
        invitations.resend,
        "A new invitation was sent to {email}; the old link no longer works.",
    )


@bp.route("/users/<int:user_id>/invitation/revoke", methods=["POST"])
@admin_required
@step_up_required(when=own_user)
def revoke_invitation(user_id: int):
    return invitation_change(
        user_id, invitations.revoke, "{name}'s invitation was revoked; they stay deactivated."
    )
