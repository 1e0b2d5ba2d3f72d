"""Who must set up MFA, and when (README, "Enforcement"): one rule, one place.

- A user with MFA: nothing.
- The system requires MFA: with no deadline, or past it, the user MUST enrol
  before reaching anything else; before the deadline each sign-in prompts
  (skippable) and says by when.
- Else, a system that must comply (NZ/AU and linked to accounting): every
  sign-in prompts, explaining the tax authorities' advice.

A session started through the firm's single sign-on may count instead of
MFA, as the firm's sign-in requirement says (`webapp.sso.policy`); one
started with "Sign in with a passkey" always counts (user verification
required: both factors, phishing-resistant).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask import Response, redirect, request, url_for
from flask_login import current_user

from webapp.auth.sessions import current_system, sign_in_method
from webapp.extensions import db
from webapp.models import SSO_METHODS, SignInMethod, System, User, utcnow
from webapp.sso.policy import NO_COVERAGE, Coverage, policy_for

# What a passwordless passkey sign-in proved: MFA, for the firm's rule and for NZ/AU.
PASSKEY_COVERAGE = Coverage(requirement=True, compliance=True)


class Requirement(StrEnum):
    NONE = "none"
    MUST_ENROL = "must_enrol"
    PROMPT_DEADLINE = "prompt_deadline"
    PROMPT_COMPLIANCE = "prompt_compliance"

    @property
    def prompts(self) -> bool:
        return self in (Requirement.PROMPT_DEADLINE, Requirement.PROMPT_COMPLIANCE)


def mfa_requirement(
    user: User, system: System, now: datetime, covered: Coverage = NO_COVERAGE
) -> Requirement:
    """What `user` of `system` must do about MFA at `now`, given what the
    session's sign-in already `covered` (single sign-on)."""
    if user.mfa_enabled:
        return Requirement.NONE
    if system.mfa_required and not covered.requirement:
        if user.mfa_deadline is None or now >= user.mfa_deadline:
            return Requirement.MUST_ENROL
        return Requirement.PROMPT_DEADLINE
    if system.compliance_required and not covered.compliance:
        return Requirement.PROMPT_COMPLIANCE
    return Requirement.NONE


# What a user who must enrol may still reach: the enrolment pages (the app's
# setup, or "Add a passkey" and its ceremony), sign-out, static.
ENROLMENT_ENDPOINTS = frozenset(
    {
        "static",
        "auth.sign_out",
        "mfa.setup",
        "mfa.start_setup",
        "mfa.confirm_setup",
        "passkeys.start",
        "passkeys.registration_options",
        "passkeys.add",
    }
)


def requirement_for_current_user(now: datetime | None = None) -> Requirement:
    """`mfa_requirement` for the signed-in user (their system is loaded only if it matters)."""
    if current_user.mfa_enabled:
        return Requirement.NONE
    system = current_system()
    method = sign_in_method()
    covered = NO_COVERAGE
    if method in SSO_METHODS:
        covered = policy_for(db.session, system.id).coverage(method)
    elif method == SignInMethod.PASSKEY.value:
        covered = PASSKEY_COVERAGE
    return mfa_requirement(current_user, system, now or utcnow(), covered)


def enforce_enrolment():
    """Before every request: a signed-in user who must enrol goes to the setup
    page (htmx requests are redirected as a whole page, not swapped in).
    """
    if request.endpoint in ENROLMENT_ENDPOINTS or request.endpoint is None:
        return None
    if request.blueprint == "scim":
        return None  # a bearer-token API: a cookie sent along signs no one in there
    if not current_user.is_authenticated or current_user.mfa_enabled:
        return None
    if requirement_for_current_user() is not Requirement.MUST_ENROL:
        return None
    target = url_for("mfa.setup")
    if request.headers.get("HX-Request"):
        return Response(status=200, headers={"HX-Redirect": target})
    return redirect(target)
