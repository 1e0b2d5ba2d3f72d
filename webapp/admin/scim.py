"""Security settings → "Provisioning (SCIM)": "Create token" (shown once),
"Revoke", and whether users the identity provider adds get an invitation email.
Thin: the logic is in `webapp.scim.tokens` and `webapp.scim.section`.

Each changes the firm's security settings, so each needs a fresh "Confirm it's
you" (`step_up_required`, README "Step-up").
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user

from webapp.accounts import FieldError
from webapp.admin.routes import security_page
from webapp.auth.decorators import admin_required
from webapp.auth.sessions import current_system
from webapp.auth.step_up import step_up_required
from webapp.extensions import db
from webapp.models import utcnow
from webapp.scim import tokens
from webapp.scim.section import CreateTokenForm, InvitationsForm, set_invitations

bp = Blueprint("scim_admin", __name__, url_prefix="/admin/security/scim")


@bp.route("/tokens", methods=["POST"])
@admin_required
@step_up_required
def create_token():
    form = CreateTokenForm()
    if form.validate_on_submit():
        try:
            token, secret = tokens.create_token(
                db.session, current_system(), name=form.name.data, admin=current_user, now=utcnow()
            )
        except FieldError as error:
            form.name.errors = [str(error)]
        else:
            # The page itself, not a redirect: the secret is shown this once and
            # never travels in a cookie or a URL.
            return security_page(scim_created={"name": token.name, "secret": secret})
    return security_page(status=422, scim_token=form)


def own_live_token(view):
    """Another firm's (or a revoked) token is not found, before any step-up."""

    @wraps(view)
    def wrapped(token_id: int):
        if not any(
            token.id == token_id for token in tokens.tokens_of(db.session, current_user.system_id)
        ):
            abort(404)
        return view(token_id)

    return wrapped


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_required
@own_live_token
@step_up_required
def revoke_token(token_id: int):
    token = tokens.revoke_token(db.session, admin=current_user, token_id=token_id, now=utcnow())
    if token is None:
        abort(404)
    flash(f"Revoked the SCIM token “{token.name}”: it no longer works.", "info")
    return redirect(url_for("admin.security") + "#scim")


@bp.route("/invitations", methods=["POST"])
@admin_required
@step_up_required
def save_invitations():
    form = InvitationsForm()
    if not form.validate_on_submit():
        return security_page(status=422, scim_invitations=form)
    send = form.send_invitations.data
    set_invitations(db.session, current_system(), admin=current_user, send=send)
    flash(
        "Users your identity provider adds now get an invitation email."
        if send
        else "Users your identity provider adds get no invitation email.",
        "info",
    )
    return redirect(url_for("admin.security") + "#scim")
