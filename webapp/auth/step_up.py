"""Step-up ("Confirm it's you", sudo mode) before sensitive actions (README, "Step-up").

A sensitive action needs a fresh proof given in this browser session within
`STEP_UP_TTL` (10 minutes): one of the user's passkeys, a code from the
authenticator app or a recovery code, or, for a user without MFA whose firm
does not require it, the password.
Signing in is not such a proof: the step-up asks again, as GitLab's Admin Mode does.

The proof lives on the server (`StepUpProof`): the browser's session holds only
a random token whose hash names the row, and the row belongs to the user under
their current session version. So sign-out (which clears the browser's session
and moves the version on), an MFA reset or a deactivation ends it, and another
browser of the same user never has it.

`@step_up_required` goes under `@login_required` / `@admin_required`. A POST
without a fresh proof reaches the view only if it brings one (the prompt's
field); otherwise the view is not called and "Confirm it's you" answers: as a
page without JavaScript, inside the dialog the action came from (htmx), or as a
dialog of its own for another htmx action. Its form posts the original request
again, with every field (a fresh CSRF token) and the proof, so once the proof is
accepted the original action is carried out. Nothing changes before that.

The kinds of proof are `PROOFS`, each offered to some users, read from its own
form field and checked by its own function. A passkey's field is filled by
static/js/passkeys.js ("Use a passkey": the assertion, as JSON), which then
submits the same form, so the carried fields go along as with a code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, make_response, render_template, request, url_for
from flask import session as browser_session
from flask_login import current_user
from sqlmodel import Session, delete, select

from webapp import audit
from webapp.accounts import lock_firm
from webapp.audit import Action
from webapp.auth.models import StepUpProof
from webapp.auth.services import password_is_right, safe_next
from webapp.auth.sessions import current_session_id, current_system
from webapp.crypto import new_token, token_hash
from webapp.dialogs import CLOSE_EVENT
from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.limits import policy as limits
from webapp.mfa import services as mfa
from webapp.mfa import throttle
from webapp.models import System, User, utcnow
from webapp.passkeys import services as passkeys
from webapp.passkeys import step_up as passkey_proof

TOKEN_KEY = "step_up"  # noqa: S105 (a session key name)
WHERE = "step_up"  # the code checks' `where` (audit, throttle)
# The prompt as a dialog of its own (an htmx action outside any dialog).
DIALOG = "step-up"
# Where the original htmx action swapped its answer (the prompt's dialog carries it).
TARGET_FIELD = "step_up_target"
ELEMENT_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,99}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- the proofs --------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """One kind of proof the step-up accepts."""

    method: str  # recorded on the proof and in the audit event
    field: str  # the form field it comes in
    template: str  # the prompt's part that asks for it
    offered: Callable[[User, System], bool]
    # The value's shape: a message (nothing counted) or None.
    shape: Callable[[str], str | None]
    # The check (wrong ones count toward the user's wrong-code lock).
    check: Callable[[Session, User, str, datetime], mfa.CodeCheck]
    wrong: str  # what a refused proof reads


CODE_SHAPE = re.compile(r"^[0-9]{6}$")


def code_shape(value: str) -> str | None:
    if not value:
        return "Enter the 6-digit code from your authenticator app, or a recovery code."
    if CODE_SHAPE.match(value) or mfa.is_recovery_code_shaped(value):
        return None
    return "Enter the 6 digits your app shows, or a recovery code like abcde-23456."


def check_code(session: Session, user: User, value: str, now: datetime) -> mfa.CodeCheck:
    return mfa.check_code(session, user, value, now, where=WHERE)


def check_password(session: Session, user: User, value: str, now: datetime) -> mfa.CodeCheck:
    """The password, counted like a code: so a session left open cannot guess it."""
    if not throttle.take_attempt(session, user, now):
        return mfa.CodeCheck(mfa.Outcome.LOCKED, locked_until=throttle.current_lock(user, now))
    if password_is_right(user, value):
        throttle.clear(user)
        return mfa.CodeCheck(mfa.Outcome.ACCEPTED)
    locked_until = throttle.record_failure(session, user, now, where=WHERE)
    if locked_until:
        return mfa.CodeCheck(mfa.Outcome.LOCKED, locked_until=locked_until)
    return mfa.CodeCheck(mfa.Outcome.WRONG)


PROOFS: list[Proof] = [
    # First: an assertion comes only from "Use a passkey", so it wins over
    # anything left in the code field (`given_proof`); the prompt shows it first.
    Proof(
        method="passkey",
        field="passkey_assertion",
        template="auth/_proof_passkey.html",
        offered=lambda user, system: passkeys.count_of(db.session, user) > 0,
        shape=lambda value: None if value.strip() else passkey_proof.REFUSED,
        check=passkey_proof.check,
        wrong=passkey_proof.REFUSED,
    ),
    Proof(
        method="code",
        field="code",
        template="auth/_proof_code.html",
        offered=lambda user, system: user.mfa_enabled,
        shape=lambda value: code_shape(value.replace(" ", "").strip()),
        check=lambda session, user, value, now: check_code(
            session, user, value.replace(" ", "").strip(), now
        ),
        wrong=mfa.OUTCOME_MESSAGES[mfa.Outcome.WRONG],
    ),
    Proof(
        method="password",
        field="current_password",
        template="auth/_proof_password.html",
        offered=lambda user, system: not user.mfa_enabled and not system.mfa_required,
        shape=lambda value: None if value else "Enter your password.",
        check=check_password,
        wrong="That password is not right.",
    ),
]


def offered_proofs(user: User, system: System) -> list[Proof]:
    return [proof for proof in PROOFS if proof.offered(user, system)]


def given_proof(proofs: list[Proof]) -> Proof | None:
    """The proof this request brings: the first one filled in, else the first
    sent (empty: the prompt then says what to enter)."""
    sent = [proof for proof in proofs if proof.field in request.form]
    filled = [proof for proof in sent if request.form[proof.field].strip()]
    return (filled or sent or [None])[0]


# --- the proof kept for this session ------------------------------------------


def is_fresh(session: Session, user: User, now: datetime) -> bool:
    """Whether this browser session holds a live proof of `user`'s."""
    token = browser_session.get(TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return False
    found = session.exec(
        select(StepUpProof.id).where(
            StepUpProof.token_hash == token_hash(token),
            StepUpProof.user_id == user.id,
            StepUpProof.session_version == user.session_version,
            StepUpProof.browser_session_id == current_session_id(),
            StepUpProof.expires_at > now,
        )
    ).first()
    return found is not None


def record_proof(session: Session, user: User, method: str, now: datetime) -> None:
    """A proof was just given: this session may act for `STEP_UP_TTL`. Audited."""
    old = browser_session.get(TOKEN_KEY)
    if isinstance(old, str) and old:
        session.exec(delete(StepUpProof).where(StepUpProof.token_hash == token_hash(old)))
    token = new_token()
    session.add(
        StepUpProof(
            token_hash=token_hash(token),
            user_id=user.id,
            session_version=user.session_version,
            browser_session_id=current_session_id(),
            method=method,
            proved_at=now,
            expires_at=now + current_app.config["STEP_UP_TTL"],
            created_at=now,
        )
    )
    browser_session[TOKEN_KEY] = token
    audit.record(
        session, Action.STEP_UP, actor=user, subject=user, method=method, path=request.path
    )


# --- the decorator -----------------------------------------------------------


def step_up_required(view=None, *, when: Callable[..., bool] | None = None):
    """Ask for a fresh proof before a POST (PUT, DELETE …) reaches `view`.

    `when(**view_kwargs)`: only then (e.g. an edit that changes a role); the
    view answers every other request as it is.
    """

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if request.method in SAFE_METHODS or (when is not None and not when(**kwargs)):
                return view(*args, **kwargs)
            refusal = confirm()
            if refusal is not None:
                return refusal
            return back_in_place(make_response(view(*args, **kwargs)))

        return wrapped

    return decorate(view) if view is not None else decorate


def confirm():
    """None when this session has (or this request brings) a fresh proof; else
    the "Confirm it's you" step to answer with."""
    user: User = current_user._get_current_object()
    now = utcnow()
    if is_fresh(db.session, user, now):
        return None
    proofs = offered_proofs(user, current_system())
    given = given_proof(proofs)
    if given is None:
        # A step to take, not an error (a browser logs none); 403 when none can be taken.
        return prompt(proofs, status=200 if proofs else 403)
    value = request.form.get(given.field, "")
    problem = given.shape(value)
    if problem:
        return prompt(proofs, errors={given.field: problem}, status=422)
    if limits.address_locked("code", now):
        abort(429)  # as the code routes answer: this address guessed too often
    # Before the proof writes the user's row: the action may lock the firm next
    # (a demotion), and the firm's row comes first (`accounts.lock_firm`).
    lock_firm(db.session, user.system_id)
    check = given.check(db.session, user, value, now)
    if check.outcome is mfa.Outcome.LOCKED:
        return prompt(proofs, status=429)
    if not check.accepted:
        # A wrong proof spends the address's wrong-code budget, as at sign-in.
        limits.count_address_failure("code", now)
        replay = check.outcome is mfa.Outcome.REPLAY
        message = mfa.OUTCOME_MESSAGES[check.outcome] if replay else given.wrong
        return prompt(proofs, errors={given.field: message}, status=422)
    method = "recovery_code" if check.recovery_codes_left is not None else given.method
    record_proof(db.session, user, method, now)
    return None


# --- the prompt --------------------------------------------------------------


def carried_fields() -> list[tuple[str, str]]:
    """The original request's fields, to post again (not the proofs or the token)."""
    skip = {proof.field for proof in PROOFS} | {"csrf_token"}
    return [(name, value) for name, value in request.form.items(multi=True) if name not in skip]


def cancel_url() -> str:
    """Where "Cancel" leads without JavaScript: the page the action was on."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc == request.host:
        path = referrer.path + (f"?{referrer.query}" if referrer.query else "")
        if safe_next(path):
            return path
    return url_for("auth.index")


def lock_words(user: User, now: datetime) -> str | None:
    """The wrong-code lock, if on, in words (a password's proof says "attempts")."""
    locked_until = throttle.current_lock(user, now)
    if locked_until is None:
        return None
    words = mfa.locked_message(locked_until, current_system().timezone, now)
    return words if user.mfa_enabled else words.replace("wrong codes", "wrong attempts")


def prompt(proofs: list[Proof], *, status: int, errors: dict[str, str] | None = None):
    """ "Confirm it's you": a page; in the dialog the action came from (htmx,
    a form targeting `#<dialog>-body`); or, for another htmx action, a dialog
    of its own in the page's dialog slot, which remembers the action's target."""
    fragment = wants_fragment()
    target = request.headers.get("HX-Target", "") if fragment else ""
    own_body = f"{DIALOG}-body"
    opens_dialog = fragment and not target.endswith("-body")
    original_target = target if opens_dialog else request.form.get(TARGET_FIELD, "")
    hx_target = own_body if opens_dialog else target
    context = dict(
        proofs=proofs,
        errors=errors or {},
        action=request.full_path.rstrip("?"),
        carried=carried_fields(),
        hx_target=hx_target,
        # Only the prompt's own dialog needs to remember where the answer goes.
        original_target=original_target if ELEMENT_ID.fullmatch(original_target) else "",
        carries_target=hx_target == own_body,
        target_field=TARGET_FIELD,
        heading=bool(target) and target != own_body and not opens_dialog,
        locked=lock_words(current_user, utcnow()),
        back_url=cancel_url(),
        ttl_minutes=int(current_app.config["STEP_UP_TTL"].total_seconds() // 60),
    )
    if not fragment:
        response = render_page("auth/step_up.html", status=status, **context)
    elif opens_dialog:
        response = render_page("auth/step_up.html", block="dialog", status=status, **context)
        response.headers["HX-Retarget"] = "#dialog-slot"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(render_template("auth/_step_up_form.html", **context), status)
        response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "no-store"  # it carries the form's values
    return response


def back_in_place(response):
    """After a proof given in the prompt's own dialog: the action's answer goes
    where the action would have put it, and the dialog closes."""
    if not wants_fragment() or request.headers.get("HX-Target") != f"{DIALOG}-body":
        return response
    original = request.form.get(TARGET_FIELD, "")
    if ELEMENT_ID.fullmatch(original):
        response.headers.setdefault("HX-Retarget", f"#{original}")
    else:
        response.headers.setdefault("HX-Reswap", "none")
    response.headers.setdefault("HX-Trigger-After-Settle", json.dumps({CLOSE_EVENT: ""}))
    return response
