"""Security settings → "Single sign-on": the firm's provider, its secret, the
"Test sign-in" and the sign-in requirement. Thin: the logic is in
`webapp.sso.settings`.

Every POST here changes the firm's sign-in settings, so each needs a fresh
"Confirm it's you" (`step_up_required`, README "Step-up").
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, request, url_for
from flask_login import current_user

from webapp.accounts import FieldError
from webapp.admin.routes import security_page
from webapp.auth.decorators import admin_required
from webapp.auth.sessions import current_system, sign_in_method
from webapp.auth.step_up import step_up_required
from webapp.extensions import db
from webapp.models import SsoConfig, utcnow
from webapp.sso import flow, settings
from webapp.sso.flow import Purpose, SsoFailure
from webapp.sso.forms import ProviderForm, RequirementForm, SecretForm
from webapp.sso.routes import leave_for_provider, record_failure

bp = Blueprint("sso_admin", __name__, url_prefix="/admin/security/sso")


def back_to_settings():
    """To the single sign-on settings (htmx too: its "Test sign-in" swaps nothing)."""
    target = url_for("admin.security") + "#sso"
    if request.headers.get("HX-Request"):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def saved(message: str):
    flash(message, "info")
    return back_to_settings()


def saved_config() -> SsoConfig | None:
    return settings.config_of(db.session, current_user.system_id)


@bp.route("", methods=["POST"])
@admin_required
@step_up_required
def provider():
    form = ProviderForm()
    if form.validate_on_submit():
        try:
            settings.save_provider(
                db.session,
                admin=current_user,
                system=current_system(),
                settings=settings.ProviderSettings(
                    issuer=form.issuer.data,
                    client_id=form.client_id.data,
                    client_secret=form.client_secret.data or "",
                    domains=form.domains.data,
                ),
                now=utcnow(),
            )
        except FieldError as error:
            form[error.field].errors.append(str(error))
        else:
            return saved("Saved the single sign-on settings. Run “Test sign-in” to check them.")
    return security_page(status=422, sso_provider=form)


@bp.route("/secret", methods=["POST"])
@admin_required
@step_up_required
def secret():
    config = saved_config()
    if config is None:
        return back_to_settings()
    form = SecretForm()
    if form.validate_on_submit():
        try:
            settings.replace_secret(
                db.session,
                admin=current_user,
                config=config,
                secret=form.client_secret.data,
                now=utcnow(),
            )
        except FieldError as error:
            form.client_secret.errors.append(str(error))
        else:
            return saved("Replaced the client secret. Run “Test sign-in” to check it.")
    return security_page(status=422, sso_secret=form)


@bp.route("/test", methods=["POST"])
@admin_required
@step_up_required
def test_sign_in():
    """ "Test sign-in": the admin goes through the provider; the callback reports."""
    config = saved_config()
    if config is None:
        flash("Save the single sign-on settings first.", "error")
        return back_to_settings()
    try:
        url = flow.begin(
            db.session,
            config,
            purpose=Purpose.TEST,
            now=utcnow(),
            user_id=current_user.id,
            login_hint=current_user.email,
        )
    except SsoFailure as failure:
        record_failure(failure, test=True)
        flash(f"Test sign-in: {failure.message}", "error")
        return back_to_settings()
    return leave_for_provider(url)


@bp.route("/requirement", methods=["POST"])
@admin_required
@step_up_required
def requirement():
    config = saved_config()
    if config is None:
        return back_to_settings()
    form = RequirementForm()
    form.break_glass.choices = settings.break_glass_choices(db.session, current_user.system_id)
    if form.validate_on_submit():
        try:
            ended = settings.save_requirement(
                db.session,
                admin=current_user,
                admin_method=sign_in_method(),
                config=config,
                settings=settings.RequirementSettings(
                    requirement=form.requirement.data,
                    break_glass_ids=form.break_glass.data or [],
                    provider_enforces_mfa=form.provider_enforces_mfa.data,
                    create_users=form.create_users.data,
                ),
                now=utcnow(),
            )
        except FieldError as error:
            form[error.field].errors.append(str(error))
        else:
            label = settings.REQUIREMENT_LABELS[config.requirement]
            signed_out = f" {ended} signed-in users were signed out." if ended else ""
            return saved(f"Saved the sign-in requirement: {label}.{signed_out}")
    return security_page(status=422, sso_requirement=form)
