"""My Profile's passkeys: "Add a passkey", "Rename", "Remove" (thin: the logic
is in services; the ceremony's browser half is static/js/passkeys.js)."""

from __future__ import annotations

from types import SimpleNamespace

from flask import (
    Blueprint,
    abort,
    flash,
    get_template_attribute,
    jsonify,
    redirect,
    request,
    url_for,
)
from flask_login import current_user, login_required

from webapp.auth.sessions import current_system
from webapp.auth.step_up import is_fresh, offered_proofs, step_up_required
from webapp.dialogs import close_dialog, render_dialog
from webapp.extensions import db
from webapp.htmx import wants_fragment
from webapp.limits.policy import limit_per_user
from webapp.mfa.services import credential_of
from webapp.models import Passkey, User, utcnow
from webapp.passkeys import services
from webapp.passkeys import step_up as passkey_proof
from webapp.passkeys.forms import CeremonyForm, NameForm
from webapp.timefmt import timezone_of

bp = Blueprint("passkeys", __name__)

# My Profile's dialogs share one id (one is open at a time; webapp.mfa.routes).
DIALOG = "mfa-dialog"


def me() -> User:
    return current_user._get_current_object()


@bp.app_template_global()
def sign_in_methods(user: User) -> SimpleNamespace:
    """What My Profile lists under "Multi-factor authentication": the app (if
    set up) and each passkey, with the firm's timezone for their dates."""
    app = credential_of(db.session, user)
    return SimpleNamespace(
        app=app is not None and app.confirmed,
        passkeys=services.passkeys_of(db.session, user),
        timezone=timezone_of(db.session, user.system_id),
    )


def mfa_row_update() -> tuple[str, ...]:
    """My Profile's MFA row (with the methods), to swap in out of band."""
    return (get_template_attribute("mfa/_macros.html", "mfa_row")(me(), oob=True),)


def own_passkey(passkey_id: int) -> Passkey:
    passkey = services.passkey_of(db.session, me(), passkey_id)
    if passkey is None:
        abort(404)
    return passkey


# What the ceremony's JSON routes answer without a fresh proof (the script shows it).
PROOF_NEEDED = "Confirm it's you first: choose “Add a passkey” again."


def needs_proof(**_view_kwargs) -> bool:
    """A proof is asked of every user the step-up can ask one of: a user with
    no method yet whose firm requires MFA (forced enrolment) has none to give,
    and enrols on the sign-in alone, as with the app's setup."""
    return bool(offered_proofs(me(), current_system()))


def refused_without_proof():
    """The JSON routes cannot show "Confirm it's you": without a fresh proof
    they refuse (the HTML route that opens the flow asks for it)."""
    if needs_proof() and not is_fresh(db.session, me(), utcnow()):
        response = jsonify(error=PROOF_NEEDED)
        response.status_code = 403
        return response
    return None


@bp.route("/profile/passkeys/new", methods=["GET", "POST"])
@login_required
@step_up_required(when=needs_proof)
def start():
    """ "Add a passkey": a dialog that runs the ceremony once this session has
    a fresh proof; until then it leads to "Confirm it's you" (its POST)."""
    ready = request.method == "POST" or refused_without_proof() is None
    return render_dialog("passkeys/new.html", DIALOG, ready=ready)


@bp.route("/profile/passkeys/options", methods=["POST"])
@login_required
@limit_per_user("passkey_options")
def registration_options():
    """The options of "Add a passkey"'s ceremony, as JSON for the browser."""
    refusal = refused_without_proof()
    if refusal is not None:
        return refusal
    return jsonify(services.registration_options(db.session, me(), utcnow()))


@bp.route("/step-up/passkey/options", methods=["POST"])
@login_required
@limit_per_user("passkey_options")
def step_up_options():
    """ "Confirm it's you"'s "Use a passkey": the ceremony's options, as JSON
    (its answer goes into the prompt's form: webapp.auth.step_up)."""
    found = passkey_proof.options(db.session, me(), utcnow())
    if found is None:
        return jsonify(error="You have no passkey. Enter a code instead."), 404
    return jsonify(found)


@bp.route("/profile/passkeys", methods=["POST"])
@login_required
def add():
    """The browser's new passkey: kept, then named (and, if it turned MFA on,
    the recovery codes shown once)."""
    refusal = refused_without_proof()
    if refusal is not None:
        return refusal
    form = CeremonyForm()
    added, error = None, None
    if form.validate_on_submit():
        try:
            added = services.add(
                db.session, me(), form.credential.data, request.user_agent.string, utcnow()
            )
        except services.PasskeyError as refused:
            error = refused.message
    else:
        error = services.NOT_ADDED
    if added is None:
        # Committed all the same: the challenge stays used.
        return render_dialog("passkeys/added.html", DIALOG, status=422, error=error)
    name_form = NameForm(formdata=None, name=added.passkey.name)
    return render_dialog(
        "passkeys/added.html",
        DIALOG,
        passkey=added.passkey,
        form=name_form,
        codes=added.recovery_codes,
        update_row=mfa_row_update(),
    )


@bp.route("/profile/passkeys/<int:passkey_id>/rename", methods=["GET", "POST"])
@login_required
def rename(passkey_id: int):
    passkey = own_passkey(passkey_id)
    form = NameForm(name=passkey.name)
    status = 200
    if form.validate_on_submit():
        services.rename(db.session, me(), passkey, form.name.data)
        return done(f"Passkey renamed to “{passkey.name}”.")
    if request.method == "POST":
        status = 422
    return render_dialog("passkeys/rename.html", DIALOG, status=status, passkey=passkey, form=form)


@bp.route("/profile/passkeys/<int:passkey_id>/remove", methods=["GET", "POST"])
@login_required
# Another user's passkey: a 404 from the view, not a prompt.
@step_up_required(
    when=lambda passkey_id: services.passkey_of(db.session, me(), passkey_id) is not None
)
def remove(passkey_id: int):
    """Remove a passkey; the last method goes through "Deactivate" (its proof,
    and refused while the firm requires MFA)."""
    passkey = own_passkey(passkey_id)
    if services.is_last_method(db.session, me()):
        return redirect(url_for("mfa.deactivate"))
    if request.method == "POST":  # CSRF checked for every POST (CSRFProtect)
        services.remove(db.session, me(), passkey, utcnow())
        return done(f"Passkey “{passkey.name}” removed.")
    return render_dialog("passkeys/remove.html", DIALOG, passkey=passkey)


def done(message: str):
    """After a change: the dialog closes and the row updates (htmx), or back to My Profile."""
    if wants_fragment():
        return close_dialog(message, parts=mfa_row_update())
    flash(message, "info")
    return redirect(url_for("mfa.profile"))
