"""Admin → Security settings: the forms that change the firm's MFA rules
(enforcement, country and accounting, the heads-up rule). Thin: the logic is
in `security_settings`. Routes of the admin blueprint (endpoints `admin.*`).

Each change needs a fresh "Confirm it's you" (`step_up_required`).
"""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask_login import current_user

from webapp.accounts import FieldError
from webapp.admin import security_settings
from webapp.admin.forms import EnforcementForm, HeadsUpForm, SystemForm
from webapp.admin.routes import bp, security_page
from webapp.auth.decorators import admin_required
from webapp.auth.sessions import current_system
from webapp.auth.step_up import step_up_required
from webapp.extensions import db
from webapp.models import utcnow


def saved(message: str):
    flash(message, "info")
    return redirect(url_for("admin.security"))


@bp.route("/security/enforcement", methods=["POST"])
@admin_required
@step_up_required
def enforcement():
    form = EnforcementForm()
    if form.validate_on_submit():
        system = current_system()
        try:
            affected = security_settings.set_enforcement(
                db.session,
                admin=current_user,
                system=system,
                required=form.required.data,
                grace_days=form.grace_days.data,
                now=utcnow(),
            )
        except FieldError as error:
            form[error.field].errors.append(str(error))
            return security_page(status=422, enforcement=form)
        if not system.mfa_required:
            return saved("MFA is no longer required for all users.")
        return saved(f"MFA is required for all users; {affected} must set it up.")
    return security_page(status=422, enforcement=form)


@bp.route("/security/system", methods=["POST"])
@admin_required
@step_up_required
def system_settings():
    form = SystemForm()
    if form.validate_on_submit():
        system = current_system()
        security_settings.update_system_link(
            db.session,
            admin=current_user,
            system=system,
            country=form.country.data,
            accounting=form.accounting.data,
        )
        return saved("Saved the country and accounting link.")
    return security_page(status=422, system_form=form)


@bp.route("/security/heads-up", methods=["POST"])
@admin_required
@step_up_required
def heads_up():
    form = HeadsUpForm()
    admins = security_settings.system_admins(db.session, current_user.system_id)
    form.admins.choices = {str(admin.id): admin.display_name for admin in admins}
    if form.validate_on_submit():
        settings = security_settings.HeadsUpSettings(
            enabled=form.enabled.data,
            kind=form.kind.data,
            hour=form.hour.data,
            recipient_ids=None if form.recipients.data == "all" else form.admins.data,
            send_all_clear=form.send_all_clear.data,
        )
        rule = security_settings.heads_up_rule(db.session, current_user.system_id)
        try:
            security_settings.update_heads_up(
                db.session, admin=current_user, rule=rule, settings=settings
            )
        except FieldError as error:
            getattr(form, error.field).errors = [str(error)]
        else:
            return saved("Saved the heads-up email settings.")
    return security_page(status=422, heads_up=form)
