"""Sign-in and sign-out routes (thin: the logic is in services)."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user

from webapp.auth import bp, services, sessions
from webapp.auth.forms import SignInForm
from webapp.extensions import db
from webapp.htmx import render_page

SIGN_IN_FAILED = "The email or password is incorrect."


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("mfa.profile"))
    form = SignInForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            sessions.start_session(user)
            services.record_sign_in(db.session, user)
            db.session.commit()
            return redirect(services.safe_next(form.next.data) or url_for("mfa.profile"))
        form.form_errors.append(SIGN_IN_FAILED)
    status = 422 if request.method == "POST" else 200
    return render_page("auth/sign_in.html", block="content", status=status, form=form)


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    sessions.end_session()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/")
def index():
    return redirect(
        url_for("mfa.profile") if current_user.is_authenticated else url_for("auth.sign_in")
    )
