"""Admin routes (thin: the logic is in user_list, saved_views, user_edit,
security_settings and audit_log). Every route is admin-only and sees only the
admin's own system."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_template_attribute,
    redirect,
    request,
    url_for,
)
from flask_login import current_user

from webapp import audit
from webapp.accounts import FieldError
from webapp.admin import audit_log as audit_log_service
from webapp.admin import audit_view, saved_views, security_settings, user_edit, user_list
from webapp.admin.forms import (
    ADOPTION_TILES,
    BUILTIN_VIEWS,
    FILTER_CHOICES,
    FILTER_LABELS,
    SORT_LABELS,
    EditUserForm,
    EnforcementForm,
    HeadsUpForm,
    RenameViewForm,
    SaveViewForm,
    SystemForm,
    view_options,
)
from webapp.adoption.panel import adoption_panel
from webapp.auth.decorators import admin_required
from webapp.auth.sessions import current_system
from webapp.auth.step_up import step_up_required
from webapp.csv_export import csv_download
from webapp.dialogs import close_dialog, render_dialog
from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.models import utcnow
from webapp.scim.section import scim_section
from webapp.security import MAX_ROW_ID, ascii_int
from webapp.sso.forms import SecretForm, settings_section
from webapp.sso.policy import policy_for
from webapp.tasks import request_send_now

bp = Blueprint("admin", __name__, url_prefix="/admin")


def users_url(query: str = "") -> str:
    return url_for("admin.users") + (f"?{query}" if query else "")


def render_users(
    save_form: SaveViewForm | None = None,
    status: int = 200,
    user_filter: user_list.UserFilter | None = None,
):
    user_filter = user_filter or user_list.UserFilter.from_args(request.args)
    counts_sso = policy_for(db.session, current_user.system_id).counts_sso
    listing = user_list.list_users(db.session, current_user.system_id, user_filter, counts_sso)
    fragment = wants_fragment()
    # The picker shows the applied view, also after a live filter (out of band).
    views = saved_views.visible_views(db.session, current_user)
    save_form = save_form or SaveViewForm(query=user_filter.view_query(), formdata=None)
    response = render_page(
        "admin/users.html",
        block="results",
        status=status,
        section="users",
        filter=user_filter,
        listing=listing,
        # Firm-wide, outside the results block: fragments need not count it.
        panel=None
        if fragment
        else adoption_panel(db.session, current_system(), utcnow(), counts_sso=counts_sso),
        tiles=ADOPTION_TILES,
        system=current_system(),
        counts_sso=counts_sso,
        now=utcnow(),
        builtin_views=BUILTIN_VIEWS,
        view_options=view_options(views),
        own_views=[view for view in views if view.owner_id == current_user.id],
        rename_form=lambda view: RenameViewForm(prefix=f"view-{view.id}", name=view.name),
        save_form=save_form,
        users_url=users_url,
        filter_choices=FILTER_CHOICES,
        filter_labels=FILTER_LABELS,
        sort_labels=SORT_LABELS,
        page_size=user_list.PAGE_SIZE,
    )
    if fragment:
        # The address bar gets the canonical URL, not every empty form field.
        response.headers["HX-Push-Url"] = users_url(user_filter.query(page=listing.page))
    return response


@bp.route("/users")
@admin_required
def users():
    if "view" in request.args:
        # The view picker (a plain GET form): go to the view's canonical URL.
        view_filter = user_list.UserFilter.from_query(request.args["view"])
        return redirect(users_url(view_filter.view_query()))
    return render_users()


@bp.route("/users.csv")
@admin_required
def users_csv():
    user_filter = user_list.UserFilter.from_args(request.args)
    system_id = current_user.system_id
    counts_sso = policy_for(db.session, system_id).counts_sso
    return csv_download(
        "users.csv",
        lambda session: user_list.users_csv(session, system_id, user_filter, counts_sso),
    )


@bp.route("/views", methods=["POST"])
@admin_required
def save_view():
    form = SaveViewForm()
    if form.validate_on_submit():
        try:
            view = saved_views.save_view(
                db.session, current_user, form.name.data, form.query.data or "", form.shared.data
            )
        except FieldError as error:
            form.name.errors = [str(error)]
        else:
            flash(f"Saved the view “{view.name}”.", "info")
            return redirect(users_url(view.query))
    # The list stays as it was: the filters and sort the view was to keep.
    kept = user_list.UserFilter.from_query(form.query.data or "")
    return render_users(save_form=form, status=422, user_filter=kept)


def own_view_or_404(view_id: int):
    view = saved_views.own_view(db.session, current_user, view_id)
    if view is None:
        abort(404)
    return view


@bp.route("/views/<int:view_id>/rename", methods=["POST"])
@admin_required
def rename_view(view_id: int):
    view = own_view_or_404(view_id)
    form = RenameViewForm(prefix=f"view-{view.id}")
    if form.validate_on_submit():
        try:
            saved_views.rename_view(db.session, current_user, view, form.name.data)
        except FieldError as error:
            flash(str(error), "error")
        else:
            flash(f"Renamed the view to “{view.name}”.", "info")
    else:
        flash("Give the view a name of 1 to 100 characters.", "error")
    return redirect(url_for("admin.users"))


@bp.route("/views/<int:view_id>/delete", methods=["POST"])
@admin_required
def delete_view(view_id: int):
    view = own_view_or_404(view_id)
    db.session.delete(view)
    flash(f"Deleted the view “{view.name}”.", "info")
    return redirect(url_for("admin.users"))


def changes_access(user_id: int) -> bool:
    """Whether an Edit user POST changes the role, the active flag or MFA (the
    step-up's business; a new name alone is not). Parsed as the view parses it."""
    user = user_edit.find_user(db.session, current_user.system_id, user_id)
    if user is None:
        return False  # the view answers 404
    form = EditUserForm(obj=user)
    return (form.role.data, form.active.data) != (user.role, user.active) or (
        user.mfa_enabled and not form.mfa_enabled.data
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
@step_up_required(when=changes_access)
def edit_user(user_id: int):
    user = user_edit.find_user(db.session, current_user.system_id, user_id)
    if user is None:
        abort(404)
    form = EditUserForm(obj=user)
    if request.method == "GET":
        form.mfa_enabled.data = user.mfa_enabled
    resetting = user.mfa_enabled and not form.mfa_enabled.data
    if form.validate_on_submit():
        changes = user_edit.UserChanges(
            display_name=form.display_name.data,
            role=form.role.data,
            active=form.active.data,
            mfa_enabled=form.mfa_enabled.data,
            billing_acknowledged=form.accept_billing.data,
        )
        try:
            user_edit.update_user(
                db.session, admin=current_user, user=user, changes=changes, now=utcnow()
            )
        except FieldError as error:
            getattr(form, error.field).errors = [str(error)]
        else:
            return edit_user_saved(user, saved_message(user, resetting))
    status = 422 if request.method == "POST" else 200
    return render_dialog(
        "admin/edit_user.html",
        "edit-user",
        status=status,
        section="users",
        user=user,
        form=form,
        system_requires_mfa=current_system().mfa_required,
    )


def saved_message(user, reset: bool) -> str:
    """What Edit user's Save did, in words."""
    if reset:
        return (
            f"{user.display_name}'s MFA was reset: they were signed out everywhere "
            "and emailed to set it up again."
        )
    return f"Saved {user.display_name}."


def edit_user_saved(user, message: str):
    """In the dialog over the list: close it and update the user's row in place
    (the list keeps its filter and scroll). As a page: back to the page."""
    if wants_fragment():
        user_row = get_template_attribute("admin/_macros.html", "user_row")
        counts_sso = policy_for(db.session, current_user.system_id).counts_sso
        return close_dialog(message, parts=(user_row(user, utcnow(), counts_sso, oob=True),))
    flash(message, "info")
    return redirect(url_for("admin.edit_user", user_id=user.id))


def security_page(status: int = 200, **forms):
    system = current_system()
    rule = security_settings.heads_up_rule(db.session, system.id)
    admins = security_settings.system_admins(db.session, system.id)
    enforcement = forms.get("enforcement") or EnforcementForm(
        formdata=None, required=system.mfa_required, grace_days=system.mfa_grace_days
    )
    system_form = forms.get("system_form") or SystemForm(
        formdata=None, country=system.country, accounting=system.accounting_link
    )
    heads_up = forms.get("heads_up") or HeadsUpForm(
        formdata=None,
        obj=rule,
        recipients="all" if rule.recipient_ids is None else "chosen",
        admins=rule.recipient_ids or [],
    )
    heads_up.admins.choices = {
        str(admin.id): f"{admin.display_name} ({admin.email})" for admin in admins
    }
    if request.args.get("replace") == "secret" and "sso_secret" not in forms:
        # "Replace secret": the secret's field in place (htmx), or the page with it.
        forms["sso_secret"] = SecretForm(formdata=None)
        if wants_fragment():
            sso = settings_section(db.session, system.id, **forms)
            return render_page("admin/_sso_secret.html", sso=sso)
    counts_sso = policy_for(db.session, system.id).counts_sso
    return render_page(
        "admin/security.html",
        status=status,
        section="security",
        system=system,
        sso=settings_section(db.session, system.id, **forms),
        scim=scim_section(db.session, system.id, **forms),
        to_enrol=security_settings.users_to_enrol(db.session, system.id, counts_sso),
        enforcement=enforcement,
        system_form=system_form,
        heads_up=heads_up,
        audit_retention=security_settings.retention_in_words(
            current_app.config["AUDIT_RETENTION_DAYS"]
        ),
    )


@bp.route("/security")
@admin_required
def security():
    return security_page()


@bp.route("/security/heads-up/send-now", methods=["POST"])
@admin_required
def send_heads_up_now():
    """Run this system's heads-up rule now (the job decides whom it emails)."""
    if request_send_now(current_user.system_id):
        flash("The heads-up email is on its way to the rule's recipients.", "info")
    else:
        flash("The heads-up email could not be queued just now. Please try again.", "error")
    return redirect(url_for("admin.security"))


@bp.route("/audit")
@admin_required
def audit_log():
    filters = audit_log_service.filters_from(request.args)
    action, user_email = filters["action"], filters["user_email"]
    before = ascii_int(request.args.get("before", ""))
    page = audit_log_service.audit_events(
        db.session,
        current_user.system_id,
        **filters,
        before=before if before is not None and before <= MAX_ROW_ID else None,
    )
    return render_page(
        "admin/audit.html",
        block="events",
        section="audit",
        page=page,
        action=action,
        user_email=user_email,
        actions=list(audit.Action),
        action_label=audit_view.action_label,
        event_label=audit_view.event_label,
        event_details=audit_view.event_details,
        timezone=current_system().timezone,
        audit_retention=security_settings.retention_in_words(
            current_app.config["AUDIT_RETENTION_DAYS"]
        ),
    )


@bp.route("/audit.csv")
@admin_required
def audit_csv():
    """The firm's audit log (as filtered) to keep before it ages out."""
    filters = audit_log_service.filters_from(request.args)
    system_id = current_user.system_id
    return csv_download(
        "audit-log.csv",
        lambda session: audit_log_service.audit_csv(session, system_id, **filters),
    )
