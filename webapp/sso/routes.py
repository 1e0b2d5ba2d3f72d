"""Single sign-on at the sign-in page: "Sign in with single sign-on" → "Work
email" → the firm's provider → back at the callback. Thin: the logic is in
`webapp.sso.flow`.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, make_response, redirect, request, url_for
from flask_login import current_user

from webapp import audit
from webapp.audit import Action
from webapp.auth import pending, services
from webapp.auth.routes import finish_sign_in
from webapp.extensions import db
from webapp.htmx import render_page
from webapp.limits.policy import limit_address
from webapp.models import SignInMethod, System, User, utcnow
from webapp.sso import flow, settings
from webapp.sso.flow import Purpose, Reason, SsoFailure
from webapp.sso.forms import WorkEmailForm
from webapp.sso.policy import policy_for

log = logging.getLogger(__name__)

bp = Blueprint("sso", __name__)


def leave_for_provider(url: str):
    """Send the browser to the provider's authorization URL.

    Not as a redirect of the form's POST: the CSP's `form-action 'self'` covers
    a form submission's redirects too, so Chromium would block the hop to the
    provider. htmx goes there itself (HX-Redirect); without JavaScript the page
    offers the link.
    """
    if request.headers.get("HX-Request"):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return render_page("sso/continue.html", provider_url=url)


def record_failure(failure: SsoFailure, **more) -> None:
    """Audit a refused single sign-on (or log it, when no firm is known)."""
    if failure.system_id is None:
        log.info("single sign-on refused: %s", failure.reason.value)
        return
    details = dict(failure.details)
    subject = details.pop("subject", None)
    audit.record(
        db.session,
        Action.SSO_FAILED,
        system=db.session.get(System, failure.system_id),
        subject=subject,
        reason=failure.reason.value,
        **details,
        **more,
    )


@bp.route("/sign-in/sso", methods=["GET", "POST"])
@limit_address("password")
def start():
    if current_user.is_authenticated:
        return redirect(url_for("mfa.profile"))
    form = WorkEmailForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        config = flow.config_for_email(db.session, form.email.data)
        try:
            if config is None:
                raise SsoFailure(Reason.UNKNOWN_DOMAIN)
            url = flow.begin(
                db.session,
                config,
                purpose=Purpose.SIGN_IN,
                now=utcnow(),
                next_target=services.safe_next(form.next.data),
                login_hint=form.email.data.strip(),
            )
        except SsoFailure as failure:
            record_failure(failure)
            form.email.errors.append(failure.message)
        else:
            return leave_for_provider(url)
    status = 422 if request.method == "POST" else 200
    return render_page("sso/start.html", block="content", status=status, form=form)


@bp.route(flow.CALLBACK_PATH)
def callback():
    """The provider's answer (GET, as OpenID Connect sends it; the state binds it)."""
    now = utcnow()
    done = None
    try:
        done = flow.complete(db.session, request.args, now)
        if done.attempt.purpose == Purpose.TEST.value:
            return test_report(done.attempt.user_id, done.config.system_id, done, None)
        user = flow.member_for(db.session, done, now)
    except SsoFailure as failure:
        if done is None and failure.purpose == Purpose.TEST.value:
            return test_report(failure.user_id, failure.system_id, None, failure)
        record_failure(failure)
        return render_page(
            "sso/failed.html",
            status=400 if failure.reason is Reason.STALE_STATE else 403,
            message=failure.message,
        )
    return sign_in_after_sso(user, done.method, done.attempt.next_target)


def sign_in_after_sso(user: User, method: SignInMethod, next_target: str | None):
    """Sign `user` in after the firm's provider vouched for them, exactly as after
    the code step (`finish_sign_in`); first the code step itself when the firm's
    requirement still asks Firmguard's MFA of users who have it."""
    if user.mfa_enabled and not policy_for(db.session, user.system_id).replaces_code(method):
        pending.begin(db.session, user, utcnow(), next_target, method)
        return redirect(url_for("auth.verify"))
    return finish_sign_in(user, next_target, method=method)


def test_report(admin_id: int | None, system_id: int, done, failure):
    """An admin's "Test sign-in" ends here: what the provider returned, nobody signed in."""
    admin = current_user
    if not (
        admin.is_authenticated
        and admin.is_admin
        and admin.id == admin_id
        and admin.system_id == system_id
    ):
        abort(403)
    report = settings.record_test(
        db.session, admin=admin, system_id=system_id, done=done, failure=failure, now=utcnow()
    )
    return render_page("admin/sso_test.html", section="security", report=report)
