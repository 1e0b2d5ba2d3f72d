"""Forgot password, the emailed link's "Set a new password", an invitation's
"Set your password", and "Change password" on My Profile. Thin: the logic is in `webapp.passwords.services`."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask import session as browser_session
from flask_login import current_user, login_required

from webapp.audit import Action
from webapp.auth import sessions
from webapp.auth.routes import finish_sign_in
from webapp.auth.step_up import step_up_required
from webapp.dialogs import close_dialog, render_dialog
from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.models import utcnow
from webapp.passwords import services, tokens
from webapp.passwords.forms import ChangePasswordForm, ForgotPasswordForm, SetPasswordForm
from webapp.passwords.tokens import Purpose
from webapp.sso.policy import policy_for

bp = Blueprint("passwords", __name__)

LINK_KEY = "password_link"  # this browser's emailed link: {"purpose", "token"}
PAGE_TITLES = {Purpose.RESET: "Set a new password", Purpose.INVITATION: "Set your password"}
SENT = (
    "If an account uses that address, we've emailed a link to set a new password. "
    "It works for 30 minutes."
)
LINK_SPENT = "This link has expired or was already used. Ask for a new one below."
RESET_DONE = "Your password was changed. Sign in with your new password."
CHANGED = "Your password was changed. You were signed out everywhere else."
INVITATION_SPENT = (
    "This invitation has expired, was already used or was revoked. "
    "Ask your firm's admin to send you a new one."
)
WELCOME = "Your password is set. Welcome to Firmguard."
SSO_WELCOME = "Your password is set. Your firm signs in with single sign-on: use it to sign in."
DIALOG = "password-dialog"


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot():
    """ "Forgot your password?": the same answer whether or not the email is known."""
    form = ForgotPasswordForm()
    status = 200
    sent = False
    if form.validate_on_submit():
        now = utcnow()
        if not services.address_may_ask(now):
            abort(429)
        services.request_reset(db.session, form.email.data, now)
        sent = True
    elif request.method == "POST":
        status = 422
    return render_page("passwords/forgot.html", status=status, form=form, sent=sent)


@bp.route("/password/reset/<token>")
def open_link(token: str):
    """The reset email's link."""
    return hold_link(Purpose.RESET, token, url_for("passwords.forgot"))


@bp.route("/invitation/<token>")
def open_invitation(token: str):
    """The invitation email's link."""
    return hold_link(Purpose.INVITATION, token, url_for("passwords.invitation_ended"))


@bp.route("/invitation/ended")
def invitation_ended():
    """Where an invitation link no longer live leads (expired, used, revoked)."""
    return render_page("passwords/invitation_ended.html", status=410, message=INVITATION_SPENT)


def link_spent(purpose: Purpose):
    if purpose is Purpose.INVITATION:
        return redirect(url_for("passwords.invitation_ended"))
    flash(LINK_SPENT, "error")
    return redirect(url_for("passwords.forgot"))


def hold_link(purpose: Purpose, token: str, spent_url: str):
    """An emailed link opened: this browser holds its token (in the signed
    session, off the address bar and out of any Referer) and goes to the page
    that sets the password. `spent_url`: where a link no longer live goes."""
    if tokens.holder(db.session, token, purpose, utcnow()) is None:
        flash(LINK_SPENT, "error")
        return redirect(spent_url)
    browser_session[LINK_KEY] = {"purpose": purpose.value, "token": token}
    return redirect(url_for("passwords.set_password"))


@bp.route("/password/set", methods=["GET", "POST"])
def set_password():
    """ "Set a new password" (or an invitation's "Set your password"). The link
    is used up only by a password that meets the rules; the user then signs in
    as usual, with their code if they have MFA: this page signs nobody in."""
    held = browser_session.get(LINK_KEY)
    purpose = Purpose(held["purpose"]) if isinstance(held, dict) else Purpose.RESET
    now = utcnow()
    user = tokens.holder(db.session, held.get("token"), purpose, now) if held else None
    if user is None:
        browser_session.pop(LINK_KEY, None)
        return link_spent(purpose)
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        form.new_password.errors = services.problems(db.session, user, form.new_password.data)
        if not form.new_password.errors:
            if services.set_with_token(
                db.session, held["token"], purpose, form.new_password.data, now
            ):
                # Nothing of this browser's session survives (a signed-in user
                # of it was signed out with everyone else).
                sessions.end_session()
                if purpose is Purpose.INVITATION:
                    return signed_in_after_invitation(user)
                flash(RESET_DONE, "info")
                return redirect(url_for("auth.sign_in"))
            return link_spent(purpose)
    if request.method == "POST":
        status = 422
    return render_page(
        "passwords/set.html",
        status=status,
        form=form,
        user=user,
        title=PAGE_TITLES[purpose],
        invitation=purpose is Purpose.INVITATION,
    )


def signed_in_after_invitation(user):
    """An invited user's first password: they proved the email and chose the
    password a moment ago, and have no MFA yet to skip, so this signs them in
    as a password sign-in would; the firm's MFA rule then applies at once
    (MFA required: straight to the setup, nothing else reachable before it).
    A firm that signs in with single sign-on only sends them to sign in there."""
    if not policy_for(db.session, user.system_id).allows_password(user):
        flash(SSO_WELCOME, "info")
        return redirect(url_for("auth.sign_in"))
    return finish_sign_in(user, None, WELCOME)


@bp.route("/profile/password", methods=["GET", "POST"])
@login_required
@step_up_required(when=lambda: current_user.mfa_enabled)
def change():
    """My Profile → "Change password" (a dialog; a page without JavaScript)."""
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        now = utcnow()
        refusal = services.check_current_password(db.session, user, form.old_password.data, now)
        if refusal:
            form.old_password.errors.append(refusal)
        else:
            form.new_password.errors = services.problems(db.session, user, form.new_password.data)
        if not refusal and not form.new_password.errors:
            services.set_password(
                db.session,
                user,
                form.new_password.data,
                now,
                action=Action.PASSWORD_CHANGED,
                actor=user,
            )
            sessions.keep_this_session(user)
            if wants_fragment():
                return close_dialog(CHANGED)
            flash(CHANGED, "info")
            return redirect(url_for("mfa.profile"))
    if request.method == "POST":
        status = 422
    return render_dialog("passwords/change.html", DIALOG, status=status, form=form)
