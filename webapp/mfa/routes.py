"""My Profile and the user's own MFA (thin: the logic is in services)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, get_template_attribute, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from webapp.auth import sessions, step_up
from webapp.auth.services import safe_next
from webapp.auth.sessions import current_system
from webapp.dialogs import close_dialog, render_dialog
from webapp.errors import CSRF_MESSAGE, render_error
from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.limits.policy import limit_address
from webapp.mfa import enforcement, services, throttle, totp
from webapp.mfa.forms import DeactivateForm, RecoveryCodesForm, SetupForm
from webapp.models import TotpCredential, User, utcnow

DEACTIVATED = "Multi-factor authentication is now off."

bp = Blueprint("mfa", __name__)
# Every route of the app, not just this blueprint's: a user who must enrol
# reaches nothing else.
bp.before_app_request(enforcement.enforce_enrolment)


def me() -> User:
    """The signed-in user as a database object (not the proxy)."""
    return current_user._get_current_object()


@bp.route("/profile")
@login_required
def profile():
    return render_profile()


def render_profile():
    return render_page("mfa/profile.html", user=me(), system=current_system())


# The dialogs of My Profile share one id (one is open at a time).
DIALOG = "mfa-dialog"


def on_profile_page() -> bool:
    """Whether the htmx request comes from My Profile (whose row a dialog updates)."""
    current = request.headers.get("HX-Current-URL", "")
    return urlsplit(current).path == url_for("mfa.profile")


# --- enrolment --------------------------------------------------------------


@bp.route("/profile/mfa/setup")
@login_required
def setup():
    """The setup dialog (a whole page without JavaScript). GET changes nothing:
    it shows the live pending key, or offers to start.
    """
    if current_user.mfa_enabled:
        return redirect(url_for("mfa.profile"))
    credential = services.pending_enrolment(db.session, me(), utcnow())
    show_secret = request.args.get("show") == "secret"
    block = "secret_key" if show_secret and credential else None
    return render_setup(credential, show_secret=show_secret, block=block)


@bp.route("/profile/mfa/setup", methods=["POST"])
@login_required
def start_setup():
    """ "Activate": make (or reuse) the pending key and open the dialog."""
    if current_user.mfa_enabled:
        return redirect(url_for("mfa.profile"))
    credential = services.start_enrolment(db.session, me(), utcnow())
    if wants_fragment():
        return render_setup(credential)
    return redirect(url_for("mfa.setup"))


@bp.route("/profile/mfa/setup/confirm", methods=["POST"])
@login_required
@limit_address("code")
def confirm_setup():
    """ "Save": two consecutive codes turn MFA on; the recovery codes are shown once."""
    if current_user.mfa_enabled:
        return redirect(url_for("mfa.profile"))
    now = utcnow()
    form = SetupForm()
    # A rejected code keeps the window as it was: same key, still shown if it was.
    show_secret = request.form.get("show") == "secret"
    if form.validate_on_submit():
        try:
            codes = services.confirm_enrolment(
                db.session, me(), form.first_code.data, form.second_code.data, now
            )
        except services.EnrolmentError as error:
            form.form_errors.append(error.message)
            status = 429 if error.locked_until else 422
            focus = keep_right_codes(form, error)
        else:
            return render_setup(None, codes=codes)
    else:
        status = 422
        focus = next((f.name for f in (form.first_code, form.second_code) if f.errors), None)
    return render_setup(
        services.pending_enrolment(db.session, me(), now),
        form=form,
        status=status,
        show_secret=show_secret,
        focus=focus,
    )


def keep_right_codes(form: SetupForm, error: services.EnrolmentError) -> str:
    """After refused codes, clear the ones to type again; return the field to fill.

    When only the second code was wrong the first stays, so the user types just
    the next code; otherwise both start afresh.
    """
    form.second_code.data = ""
    if error.first_code_right:
        return "second_code"
    form.first_code.data = ""
    return "first_code"


@bp.errorhandler(CSRFError)
def csrf_failure(error: CSRFError):
    """A refused "Save" (no or a stale CSRF token) re-renders the setup dialog in
    place with the message, like every other setup error; elsewhere, the error page.
    """
    if (
        request.endpoint != "mfa.confirm_setup"
        or not current_user.is_authenticated
        or current_user.mfa_enabled
    ):
        return render_error(error)
    db.fail_request()
    form = SetupForm(formdata=None)
    form.form_errors.append(CSRF_MESSAGE)
    pending = services.pending_enrolment(db.session, me(), utcnow())
    return render_setup(pending, form=form, status=400)


def render_setup(
    credential: TotpCredential | None,
    *,
    form: SetupForm | None = None,
    codes: list[str] | None = None,
    show_secret: bool = False,
    focus: str | None = None,
    status: int = 200,
    block: str | None = None,
):
    """The setup dialog (`block` names a part of it, e.g. the secret key)."""
    user, system = me(), current_system()
    account = totp.AppAccount.of(system.name, user.email)
    secret = services.enrolment_secret(credential) if credential else None
    qr = totp.qr_svg(totp.provisioning_uri(secret, account)) if secret else None
    context = dict(
        user=user,
        system=system,
        account=account,
        form=form or SetupForm(formdata=None),
        qr_svg=qr,
        secret_key=totp.grouped(secret) if secret and show_secret else None,
        expires_at=credential.pending_expires_at if credential else None,
        codes=codes,
        focus=focus,
        update_row=on_profile_page(),
        must_enrol=enforcement.requirement_for_current_user() is enforcement.Requirement.MUST_ENROL,
    )
    if block:
        return render_page("mfa/setup.html", block=block, status=status, **context)
    return render_dialog("mfa/setup.html", DIALOG, status=status, **context)


# --- deactivate and recovery codes ------------------------------------------


@bp.route("/profile/mfa/deactivate", methods=["GET", "POST"])
@login_required
@limit_address("code")
def deactivate():
    """ "Deactivate": a code from the app (or a recovery code), then "Save"."""
    if not current_user.mfa_enabled:
        return redirect(url_for("mfa.profile"))
    system = current_system()
    form = DeactivateForm()
    status = 200
    if system.mfa_required:
        status = 403 if request.method == "POST" else 200
    elif form.validate_on_submit():
        result = services.deactivate(db.session, me(), form.code.data, utcnow())
        if result.accepted:
            # Every session ended with MFA; this one carries on under the new version.
            sessions.keep_this_session(me())
            if wants_fragment():
                mfa_row = get_template_attribute("mfa/_macros.html", "mfa_row")
                return close_dialog(DEACTIVATED, parts=(mfa_row(me(), oob=True),))
            flash(DEACTIVATED, "info")
            return redirect(url_for("mfa.profile"))
        status = code_error(form, result)
    elif request.method == "POST":
        status = 422
    return render_code_dialog("mfa/deactivate.html", form, status, system=system)


@bp.route("/profile/mfa/recovery-codes", methods=["GET", "POST"])
@login_required
@limit_address("code")
def recovery_codes():
    """How many recovery codes are left; new ones for a current code from the app.

    A step-up (README, "Step-up"): the code asked for here is the fresh proof,
    and counts as one for the next sensitive action; with a fresh proof in this
    session, no code is asked for.
    """
    if not current_user.mfa_enabled:
        return redirect(url_for("mfa.profile"))
    now = utcnow()
    fresh = step_up.is_fresh(db.session, me(), now)
    form = RecoveryCodesForm()
    if fresh:
        del form.code
    status = 200
    if form.validate_on_submit():
        if fresh:
            codes = services.new_recovery_codes(db.session, me(), now)
        else:
            result, codes = services.regenerate_recovery_codes(
                db.session, me(), form.code.data, now
            )
            if codes:
                step_up.record_proof(db.session, me(), "code", now)
            else:
                status = code_error(form, result)
        if codes:
            return render_dialog("mfa/recovery_codes.html", DIALOG, codes=codes, form=form)
    elif request.method == "POST":
        status = 422
    return render_code_dialog(
        "mfa/recovery_codes.html",
        form,
        status,
        left=services.recovery_codes_left(db.session, me()),
        needs_code=not fresh,
    )


def code_error(form, result: services.CodeCheck) -> int:
    """Put a refused code's message on the form; the status to answer with."""
    if result.outcome is services.Outcome.LOCKED:
        return 429
    form.code.errors.append(services.OUTCOME_MESSAGES[result.outcome])
    return 422


def render_code_dialog(template: str, form, status: int, **context):
    locked_until = throttle.current_lock(me(), utcnow())
    return render_dialog(
        template,
        DIALOG,
        status=status,
        form=form,
        locked=services.locked_message(locked_until, current_system().timezone, utcnow())
        if locked_until
        else None,
        **context,
    )


# --- the sign-in prompt -----------------------------------------------------


@bp.route("/mfa/prompt")
@login_required
def prompt():
    """After sign-in: "Set up now" / "Remind me later" (only when the system asks)."""
    target = safe_next(request.args.get("next")) or url_for("mfa.profile")
    requirement = enforcement.requirement_for_current_user()
    if not requirement.prompts:
        return redirect(target)
    return render_page(
        "mfa/prompt.html",
        requirement=requirement,
        Requirement=enforcement.Requirement,
        system=current_system(),
        deadline=current_user.mfa_deadline,
        next_target=target,
    )
