"""Sign-in (password, then the code step; or a passkey alone) and sign-out.
Thin: logic is in services."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_login import current_user

from webapp.auth import pending, services, sessions
from webapp.auth.forms import RecoveryForm, SignInForm, VerifyForm
from webapp.browser_sessions import origins
from webapp.extensions import db
from webapp.htmx import render_page
from webapp.limits import account_lock
from webapp.limits.policy import limit_address, limit_per_user, note_failure
from webapp.mfa import enforcement, throttle, totp
from webapp.mfa import services as mfa
from webapp.models import SignInMethod, System, User, utcnow
from webapp.passkeys import services as passkeys
from webapp.passkeys import sign_in as passkey_sign_in
from webapp.passkeys.forms import CeremonyForm
from webapp.sso.policy import policy_for

SIGN_IN_FAILED = "The email or password is incorrect."
SIGN_IN_EXPIRED = "Your sign-in expired. Please sign in again."
RECOVERY_WRONG = "That recovery code is not right or was already used."
PASSKEY_REFUSED = "That passkey was not accepted. Try again, or use another way to sign in."
PASSWORDLESS_REFUSED = (
    "That passkey was not accepted. Try again, or sign in with your email and password."
)
# Shown only after the right password, so it tells nothing to someone guessing.
SSO_ONLY = (
    "Your firm signs in with single sign-on only. "
    "Use “Sign in with single sign-on” with your work email."
)

bp = Blueprint("auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
@limit_address("password")
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("mfa.profile"))
    form = SignInForm(next=request.args.get("next", ""))
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        user, refusal = account_lock.check_password(
            db.session, form.email.data, form.password.data, utcnow()
        )
        if refusal:
            form.form_errors.append(refusal)
            status = 429
        elif user is None:
            form.form_errors.append(SIGN_IN_FAILED)
        elif not policy_for(db.session, user.system_id).allows_password(user):
            services.record_refusal(db.session, user, reason="sso_only")
            form.form_errors.append(SSO_ONLY)
        elif user.mfa_enabled:
            pending.begin(db.session, user, utcnow(), services.safe_next(form.next.data))
            return redirect(url_for("auth.verify"))
        else:
            return finish_sign_in(user, form.next.data)
    return render_page("auth/sign_in.html", block="content", status=status, form=form)


def finish_sign_in(
    user: User,
    next_target: str | None,
    notice: str | None = None,
    method: SignInMethod = SignInMethod.PASSWORD,
):
    """Log in on a fresh session; then the MFA prompt, if the user's system asks for one.

    Every way in ends here: the password (no MFA), the code step, and single
    sign-on (`webapp.sso.routes.sign_in_after_sso`).
    """
    first_sign_in = user.last_sign_in_at is None  # before this one is noted
    # The sign-in noted first: the user's row is written once, with the
    # browser session's row (which start_session adds, and flushes for its id).
    services.record_sign_in(db.session, user, method)
    sessions.start_session(user, method)
    # After that flush, so it does not split the user's row into two writes.
    origins.note_sign_in(
        db.session,
        user,
        request.headers.get("User-Agent", ""),
        request.remote_addr or "",
        utcnow(),
        first=first_sign_in,
    )
    if notice:
        flash(notice, "info")
    target = services.safe_next(next_target) or url_for("mfa.profile")
    if enforcement.requirement_for_current_user().prompts:
        return redirect(url_for("mfa.prompt", next=target))
    return redirect(target)


@bp.route("/sign-in/verify", methods=["GET", "POST"])
@limit_address("code")
def verify():
    def check(step: pending.PendingStep, code: str, now: datetime) -> mfa.CodeCheck:
        return mfa.check_totp(
            db.session, step.user, code, now, where="sign_in", credential=step.credential
        )

    return code_step(VerifyForm, "auth/verify.html", check)


@bp.route("/sign-in/recovery", methods=["GET", "POST"])
@limit_address("code")
def recovery():
    def check(step: pending.PendingStep, code: str, now: datetime) -> mfa.CodeCheck:
        return mfa.check_recovery_code(db.session, step.user, code, now, where="sign_in")

    return code_step(RecoveryForm, "auth/recovery.html", check)


@bp.route("/sign-in/passkey/options", methods=["POST"])
@limit_per_user("passkey_options")
def passkey_options():
    """ "Use a passkey": the ceremony's options for the pending user, as JSON."""
    now = utcnow()
    step = pending.pending_step(db.session, now)
    if step is None:
        return jsonify(error=SIGN_IN_EXPIRED), 409
    return jsonify(passkey_sign_in.second_step_options(db.session, step.user, now))


@bp.route("/sign-in/passkey", methods=["POST"])
@limit_address("code")
def passkey_step():
    """The second step with a passkey: the code step's rules (pending sign-in,
    throttle, single use), the passkey checked in place of a code."""
    now = utcnow()
    step = pending.pending_step(db.session, now)
    if step is None:
        flash(SIGN_IN_EXPIRED, "error")
        return redirect(url_for("auth.sign_in"))
    form = CeremonyForm()
    if form.validate_on_submit():
        result = passkey_sign_in.check_second_step(db.session, step.user, form.credential.data, now)
        signed_in = finish_step(step, result, now)
        if signed_in is not None:
            return signed_in
        if result.outcome is not mfa.Outcome.LOCKED:
            note_failure()  # a wrong passkey counts against the address, as a wrong code
            flash(PASSKEY_REFUSED, "error")
    # Back to the code step, which shows the message (or the lock).
    return redirect(url_for("auth.verify"), 303)


@bp.route("/sign-in/with-passkey/options", methods=["POST"])
@limit_address("password")
def passwordless_options():
    """ "Sign in with a passkey": the ceremony's options, as JSON (a challenge
    for this browser; no user until the passkey answers). No per-user count
    (there is no user yet) and none per address (an office shares one): an
    address locked by failed sign-ins gets none."""
    return jsonify(passkey_sign_in.passwordless_options(db.session, utcnow()))


@bp.route("/sign-in/with-passkey", methods=["POST"])
@limit_address("password")
def passwordless():
    """A passkey as the whole sign-in (no password, no code): on a fresh
    session, as every way in; refused where the firm allows single sign-on only
    (but for its break-glass admins), as the password is."""
    now = utcnow()
    next_target = services.safe_next(request.args.get("next"))
    form = CeremonyForm()
    message = PASSWORDLESS_REFUSED
    if form.validate_on_submit():
        result = passkey_sign_in.check_passwordless(db.session, form.credential.data, now)
        user = result.user
        if result.check.accepted:
            if policy_for(db.session, user.system_id).allows_password(user):
                return finish_sign_in(user, next_target, method=SignInMethod.PASSKEY)
            services.record_refusal(db.session, user, reason="sso_only")
            message = SSO_ONLY
        elif result.check.outcome is mfa.Outcome.LOCKED:
            timezone = db.session.get(System, user.system_id).timezone
            message = mfa.locked_message(result.check.locked_until, timezone, now)
    if message is PASSWORDLESS_REFUSED:
        note_failure()  # counts against the address, as a wrong password does
    flash(message, "error")
    return redirect(url_for("auth.sign_in", next=next_target), 303)


def finish_step(step: pending.PendingStep, result: mfa.CodeCheck, now: datetime):
    """After an accepted second step: the pending step used up (once), then the
    sign-in. None when the check refused."""
    if not result.accepted:
        return None
    if not pending.consume(db.session, now):
        flash(SIGN_IN_EXPIRED, "error")
        return redirect(url_for("auth.sign_in"))
    notice = None
    if result.recovery_codes_left is not None:
        notice = recovery_codes_left_message(result.recovery_codes_left)
    return finish_sign_in(step.user, pending.next_target(), notice, pending.sign_in_method())


def code_step(form_class, template: str, check):
    """The second step: a code (or recovery code) for the pending user only.

    One transaction, committed by the request: the pending step with its user
    and credential (one query), the attempt count, the step claim (or the
    recovery code marked used), the pending step used up, then the sign-in
    (last sign-in, the reset count and the audit event, flushed together).
    """
    now = utcnow()
    step = pending.pending_step(db.session, now)
    if step is None:
        flash(SIGN_IN_EXPIRED, "error")
        return redirect(url_for("auth.sign_in"))
    user = step.user
    form = form_class()
    status = 200
    if form.validate_on_submit():
        result = check(step, form.code.data, now)
        signed_in = finish_step(step, result, now)
        if signed_in is not None:
            return signed_in
        if result.outcome is mfa.Outcome.LOCKED:
            status = 429
        else:
            status = 422
            form.code.errors.append(
                RECOVERY_WRONG
                if form_class is RecoveryForm
                else mfa.OUTCOME_MESSAGES[result.outcome]
            )
    elif request.method == "POST":
        status = 422
    locked_until = throttle.current_lock(user, now)
    system = db.session.get(System, user.system_id)
    # The whole page even for htmx: the content block lives in the shared
    # parent template (auth/_code_step.html), where a fragment cannot find it.
    return render_page(
        template,
        status=status,
        form=form,
        # The app lists the account under the names its QR code gave it.
        account=totp.AppAccount.of(system.name, user.email),
        has_app=step.credential is not None and step.credential.confirmed,
        has_passkey=passkeys.count_of(db.session, user) > 0,
        locked=mfa.locked_message(locked_until, system.timezone, now) if locked_until else None,
    )


def recovery_codes_left_message(left: int) -> str:
    if left == 0:
        return (
            "Recovery code accepted. You have no recovery codes left: make new ones on My Profile."
        )
    return f"Recovery code accepted. You have {left} recovery code{'s' if left != 1 else ''} left."


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """Sign out here and everywhere else (the user's session version moves on)."""
    if current_user.is_authenticated:
        services.record_sign_out(db.session, current_user._get_current_object())
    sessions.end_session()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"))


@bp.route("/")
def index():
    return redirect(
        url_for("mfa.profile") if current_user.is_authenticated else url_for("auth.sign_in")
    )
