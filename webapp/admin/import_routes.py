"""Users & permissions → "Import users": upload a CSV, see what each row would
do, then "Send invitations". Plain pages and forms (they work without
JavaScript). Thin: the logic is in `webapp.admin.user_import`. Sending needs a
fresh "Confirm it's you", as every other admin change.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user

from webapp.accounts import FieldError
from webapp.admin import import_preview, user_import
from webapp.admin.forms import ImportUsersForm
from webapp.admin.routes import bp
from webapp.auth.decorators import admin_required
from webapp.auth.step_up import step_up_required
from webapp.extensions import db
from webapp.htmx import render_page
from webapp.limits.policy import limit_per_user
from webapp.models import utcnow

TEMPLATE_CSV = (
    "email,display name,role,active\n"
    "nia.ngata@yourfirm.example,Nia Ngata,User,Yes\n"
    "leaver@yourfirm.example,,,No\n"
)


@bp.route("/users/import", methods=["GET", "POST"])
@admin_required
# Each preview writes a row, and tells which of up to 10,000 emails have an
# account somewhere (as Add user does for one): 30 a minute per admin.
@limit_per_user("user_import")
def import_users():
    form = ImportUsersForm()
    if form.validate_on_submit():
        try:
            found = import_preview.preview(db.session, current_user, form.file.data.stream)
        except FieldError as error:
            form.file.errors = [str(error)]
        else:
            kept = user_import.keep(db.session, current_user, found, utcnow())
            return render_page(
                "admin/import_users.html",
                section="users",
                found=found,
                kept=kept,
                Result=import_preview.Result,
                max_rows=import_preview.MAX_ROWS,
            )
    status = 422 if request.method == "POST" else 200
    return render_page(
        "admin/import_users.html",
        status=status,
        section="users",
        form=form,
        max_rows=import_preview.MAX_ROWS,
    )


@bp.route("/users/import/template.csv")
@admin_required
def import_template():
    return Response(
        TEMPLATE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="firmguard-users.csv"'},
    )


def own_unsent_import(import_id: int) -> bool:
    """Another firm's import is not found (404, before any step-up); a sent or
    expired one is answered by the view without asking for a proof."""
    return user_import.kept_import(db.session, current_user, import_id, utcnow()) is not None


@bp.route("/users/import/<int:import_id>/send", methods=["POST"])
@admin_required
@step_up_required(when=own_unsent_import)
def send_invitations(import_id: int):
    if user_import.firm_import(db.session, current_user, import_id) is None:
        abort(404)
    try:
        sent = user_import.send(db.session, current_user, import_id, utcnow())
    except FieldError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.import_users"))
    flash(done_message(sent), "info")
    return redirect(url_for("admin.users"))


def done_message(sent: user_import.Sent) -> str:
    """ "Invitations sent to 2 people. 1 deactivated … 1 skipped: …" """
    parts = []
    if sent.invited or not sent.deactivated:
        parts.append(
            f"Invitations sent to {sent.invited:,} {'person' if sent.invited == 1 else 'people'}."
        )
    if sent.deactivated:
        parts.append(f"{sent.deactivated:,} deactivated and signed out everywhere.")
    if sent.skipped:
        shown = ", ".join(sent.skipped[:5]) + (" …" if len(sent.skipped) > 5 else "")
        parts.append(f"{len(sent.skipped):,} skipped: {shown}.")
    return " ".join(parts)
