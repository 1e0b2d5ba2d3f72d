"""Single sign-on trips: `begin` sends the browser to the firm's provider,
`complete` takes it back at the callback, `member_for` finds who signed in.

Each trip is an `SsoAttempt` row: the state (stored hashed), nonce and PKCE
verifier, 10 minutes to live, used once (a conditional UPDATE claims it, so a
replayed or doubled callback finds nothing), and bound to the browser that
began it (a random token in its session whose hash is on the row). Services
never commit; the route does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from flask import session as browser_session
from sqlmodel import Session, select

from webapp import accounts, audit
from webapp.audit import Action
from webapp.auth.services import find_user_by_email, normalize_email
from webapp.crypto import new_token, token_hash
from webapp.models import SignInMethod, SsoAttempt, SsoConfig, SsoDomain, System, User
from webapp.passwords import tokens
from webapp.passwords.tokens import invited
from webapp.plain_text import has_control_characters
from webapp.single_use import claim_once
from webapp.sso import provider

ATTEMPT_TTL = timedelta(minutes=10)
BROWSER_KEY = "sso_browser"
CALLBACK_PATH = "/sign-in/sso/callback"


class Purpose(StrEnum):
    SIGN_IN = "sign_in"
    TEST = "test"  # an admin's "Test sign-in": reports, signs nobody in


class Reason(StrEnum):
    """Why a single sign-on was refused (audited as `reason`)."""

    UNKNOWN_DOMAIN = "unknown_domain"
    PROVIDER_UNREACHABLE = "provider_unreachable"
    PROVIDER_REFUSED = "provider_refused"
    WRONG_ISSUER = "wrong_issuer"
    STALE_STATE = "stale_state"
    WRONG_AUDIENCE = "wrong_audience"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 (a reason, not a secret)
    INVALID_TOKEN = "invalid_token"  # noqa: S105
    EMAIL_UNVERIFIED = "email_unverified"
    EMAIL_OUTSIDE_DOMAINS = "email_outside_domains"
    NO_ACCOUNT = "no_account"


# What the person reads. None says whether an email has an account here.
MESSAGES = {
    Reason.UNKNOWN_DOMAIN: "Single sign-on is not set up for that email's domain. "
    "Sign in with your email and password, or ask your firm's admin.",
    Reason.PROVIDER_UNREACHABLE: "Your firm's sign-in provider is not responding just now. "
    "Please try again in a few minutes, or sign in with your email and password.",
    Reason.PROVIDER_REFUSED: "Your firm's sign-in provider did not sign you in. "
    "Please try again, or ask your firm's admin.",
    Reason.WRONG_ISSUER: "Your firm's single sign-on is not set up correctly (the provider "
    "does not match its Issuer URL). Please tell your firm's admin.",
    Reason.STALE_STATE: "This sign-in was already used, has expired, or was started in "
    "another browser. Please start again.",
    Reason.WRONG_AUDIENCE: "Your firm's sign-in provider sent an answer meant for another "
    "application (wrong audience). Please tell your firm's admin to check the Client ID.",
    Reason.TOKEN_EXPIRED: "Your firm's sign-in provider sent an answer that has already "
    "expired. Please start again; if it keeps happening, tell your firm's admin.",
    Reason.INVALID_TOKEN: "Your firm's sign-in provider sent an answer that could not be "
    "verified. Please start again; if it keeps happening, tell your firm's admin.",
    Reason.EMAIL_UNVERIFIED: "Your sign-in provider has not verified your email address, "
    "so it cannot be used to sign in here. Ask your firm's admin.",
    Reason.EMAIL_OUTSIDE_DOMAINS: "The email address your provider gave is not in one of "
    "this firm's email domains, so it cannot be used to sign in here.",
    Reason.NO_ACCOUNT: "You cannot sign in to this firm with that account. If you think "
    "you should, ask your firm's admin.",
}


class SsoFailure(Exception):
    """A refused single sign-on: the reason, and the firm when it is known."""

    def __init__(self, reason: Reason, *, system_id: int | None = None, **details) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.system_id = system_id
        self.details = details
        # The trip's, once it is known (an admin's "Test sign-in" reports failures).
        self.purpose: str | None = None
        self.user_id: int | None = None

    @property
    def message(self) -> str:
        return MESSAGES[self.reason]


def redirect_uri() -> str:
    """Where the provider sends the browser back (register it at the provider)."""
    return current_app.config["BASE_URL"].rstrip("/") + CALLBACK_PATH


def email_domain(email: str) -> str:
    return normalize_email(email).rpartition("@")[2]


def config_for_email(session: Session, email: str) -> SsoConfig | None:
    """The single sign-on of the firm that owns the email's domain, if any."""
    domain = email_domain(email)
    if not domain:
        return None
    return session.exec(
        select(SsoConfig)
        .join(SsoDomain, SsoDomain.system_id == SsoConfig.system_id)
        .where(SsoDomain.domain == domain)
    ).first()


def begin(
    session: Session,
    config: SsoConfig,
    *,
    purpose: Purpose,
    now: datetime,
    user_id: int | None = None,
    next_target: str | None = None,
    login_hint: str | None = None,
) -> str:
    """Record a new trip to the firm's provider; return the URL to send the browser to."""
    params = {"login_hint": login_hint} if login_hint else {}
    try:
        request = provider.authorization(
            provider.client_for(config), config.issuer, redirect_uri(), **params
        )
    except provider.ProviderError as error:
        raise SsoFailure(
            Reason(error.reason), system_id=config.system_id, detail=error.detail
        ) from error
    browser = browser_session.get(BROWSER_KEY)
    if not isinstance(browser, str) or not browser:
        browser = browser_session[BROWSER_KEY] = new_token()
    # Trips that are over are deleted by the hourly retention run (SsoAttempt's expiry).
    session.add(
        SsoAttempt(
            state_hash=token_hash(request["state"]),
            browser_hash=token_hash(browser),
            system_id=config.system_id,
            purpose=purpose.value,
            user_id=user_id,
            nonce=request["nonce"],
            code_verifier=request["code_verifier"],
            next_target=next_target,
            expires_at=now + ATTEMPT_TTL,
            created_at=now,
        )
    )
    return request["url"]


@dataclass(frozen=True)
class Completed:
    """A verified answer from the provider: the trip, the firm's settings, the ID token's claims."""

    attempt: SsoAttempt
    config: SsoConfig
    claims: dict

    @property
    def method(self) -> SignInMethod:
        """SSO, or SSO_MFA when the provider says it checked a second factor."""
        amr = self.claims.get("amr")
        if isinstance(amr, list) and "mfa" in amr:
            return SignInMethod.SSO_MFA
        return SignInMethod.SSO


def claim_attempt(session: Session, state: str, now: datetime) -> SsoAttempt:
    """The trip `state` names, claimed once, by the browser that began it."""
    attempt = (
        session.exec(select(SsoAttempt).where(SsoAttempt.state_hash == token_hash(state))).first()
        if state
        else None
    )
    if attempt is None:
        raise SsoFailure(Reason.STALE_STATE)
    browser = browser_session.get(BROWSER_KEY)
    table = SsoAttempt.__table__
    if not isinstance(browser, str) or not claim_once(
        session,
        table,
        table.c.id == attempt.id,
        table.c.browser_hash == token_hash(browser),
        now=now,
    ):
        raise SsoFailure(Reason.STALE_STATE, system_id=attempt.system_id)
    return attempt


def complete(session: Session, args, now: datetime) -> Completed:
    """Check the callback's answer; exchange its code; verify the ID token."""
    attempt = claim_attempt(session, args.get("state", ""), now)
    try:
        return _verified_answer(session, attempt, args)
    except SsoFailure as failure:
        failure.purpose, failure.user_id = attempt.purpose, attempt.user_id
        raise


def _verified_answer(session: Session, attempt: SsoAttempt, args) -> Completed:
    config = session.exec(select(SsoConfig).where(SsoConfig.system_id == attempt.system_id)).first()
    if config is None:  # single sign-on was removed meanwhile
        raise SsoFailure(Reason.STALE_STATE, system_id=attempt.system_id)
    if args.get("error"):
        raise SsoFailure(
            Reason.PROVIDER_REFUSED, system_id=config.system_id, error=args.get("error")[:100]
        )
    # RFC 9207: a provider that names itself in the answer must be ours (mix-up defence).
    if "iss" in args and args.get("iss") != config.issuer:
        raise SsoFailure(Reason.WRONG_ISSUER, system_id=config.system_id)
    client = provider.client_for(config)
    try:
        token = provider.exchange_code(
            client, config.issuer, redirect_uri(), args.get("code", ""), attempt.code_verifier
        )
        claims = provider.id_token_claims(client, config.issuer, token, attempt.nonce)
    except provider.ProviderError as error:
        raise SsoFailure(
            Reason(error.reason), system_id=config.system_id, detail=error.detail
        ) from error
    return Completed(attempt, config, claims)


def firm_domains(session: Session, system_id: int) -> list[str]:
    return list(
        session.exec(
            select(SsoDomain.domain)
            .where(SsoDomain.system_id == system_id)
            .order_by(SsoDomain.domain)
        )
    )


def verified_email(session: Session, done: Completed) -> str:
    """The ID token's email, if the provider verified it and the firm owns its domain."""
    email = done.claims.get("email")
    if not isinstance(email, str) or done.claims.get("email_verified") is not True:
        raise SsoFailure(Reason.EMAIL_UNVERIFIED, system_id=done.config.system_id)
    if email_domain(email) not in firm_domains(session, done.config.system_id):
        raise SsoFailure(Reason.EMAIL_OUTSIDE_DOMAINS, system_id=done.config.system_id)
    return normalize_email(email)


def member_for(session: Session, done: Completed, now: datetime) -> User:
    """The active user of the firm who signed in; created, never as admin, when the
    firm allows it and the email is nobody's yet; made active when it is their
    first sign-in since they were invited (`accept_invitation`)."""
    email = verified_email(session, done)
    system_id = done.config.system_id
    user = find_user_by_email(session, email)
    if user is None and done.config.create_users:
        name = done.claims.get("name")
        # A provider's name that cannot be a display name (none, or one with
        # control characters) is not the user's fault: their email's name is used.
        if not isinstance(name, str) or not name.strip() or has_control_characters(name):
            name = email.partition("@")[0]
        user = accounts.create_user(
            session,
            session.get(System, system_id),
            email=email,
            name=name.strip()[:200],
            password=new_token(),  # never told to anyone: this user signs in by SSO
        )
        audit.record(session, Action.SSO_USER_CREATED, actor=user, subject=user)
    if user is not None and user.system_id == system_id:
        accept_invitation(session, user, now)
    if user is None or user.system_id != system_id or not user.active:
        same_firm = user is not None and user.system_id == system_id
        raise SsoFailure(
            Reason.NO_ACCOUNT,
            system_id=system_id,
            subject=user if same_firm else None,
            inactive=same_firm,
        )
    return user


def accept_invitation(session: Session, user: User, now: datetime) -> None:
    """An invited user of the firm whose provider has just vouched for them (the
    same verified email, in the firm's domains, as for everyone) accepts the
    invitation, as "Set your password" would: the link is used up, they are
    active from now on. Only while the link is live: after a revoke, its 7 days,
    or a deactivation they are refused like any inactive user."""
    if not invited(user):
        return
    if not tokens.claim_live_invitation(session, user, now):
        # Another sign-in of theirs may have accepted it a moment ago (a
        # callback submitted twice): read the row again, so that one is not
        # refused while the other lets them in.
        session.refresh(user)
        return
    user.active = True
    user.invited_at = None
    session.add(user)
    audit.record(session, Action.INVITATION_ACCEPTED_BY_SSO, actor=user, subject=user)
