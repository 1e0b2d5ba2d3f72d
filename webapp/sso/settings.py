"""A firm's single sign-on settings, as its admins change them (services:
they validate, change and audit; the caller commits).

Never stored or audited in the clear: the client secret (Fernet-encrypted
like TOTP secrets, `webapp.crypto`, and never shown again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from webapp import audit
from webapp.accounts import FieldError
from webapp.audit import Action
from webapp.crypto import encrypt_secret
from webapp.models import (
    SSO_METHODS,
    SignInRequirement,
    SsoConfig,
    SsoDomain,
    System,
    User,
)
from webapp.sso.flow import Completed, SsoFailure, firm_domains
from webapp.sso.policy import SSO_REQUIREMENTS

MAX_DOMAINS = 20
DOMAIN_PATTERN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
REQUIREMENT_LABELS = {
    SignInRequirement.MFA.value: "MFA for all users",
    SignInRequirement.SSO_OR_MFA.value: "SSO or MFA",
    SignInRequirement.SSO_ONLY.value: "SSO only",
}


def config_of(session: Session, system_id: int) -> SsoConfig | None:
    return session.exec(select(SsoConfig).where(SsoConfig.system_id == system_id)).first()


def clean_issuer(value: str) -> str:
    """An https URL (http only where SSO_ALLOW_HTTP_ISSUERS, for a provider on this machine)."""
    issuer = (value or "").strip()
    parts = urlsplit(issuer)
    allowed = {"https"} | ({"http"} if current_app.config["SSO_ALLOW_HTTP_ISSUERS"] else set())
    if parts.scheme not in allowed or not parts.hostname or parts.query or parts.fragment:
        raise FieldError(
            "issuer",
            "Enter the provider's Issuer URL, starting with https:// (for example "
            "https://login.microsoftonline.com/<tenant id>/v2.0).",
        )
    return issuer


def clean_domains(value: str) -> list[str]:
    """Domains from a comma- or space-separated list, lower-cased, each once."""
    domains: list[str] = []
    for word in re.split(r"[\s,;]+", (value or "").lower()):
        domain = word.strip().lstrip("@").rstrip(".")
        if not domain:
            continue
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
        if not DOMAIN_PATTERN.match(domain):
            raise FieldError("domains", f"“{word}” is not an email domain (like firm.co.nz).")
        if domain not in domains:
            domains.append(domain)
    if not domains:
        raise FieldError("domains", "Enter at least one email domain your firm owns.")
    if len(domains) > MAX_DOMAINS:
        raise FieldError("domains", f"Enter at most {MAX_DOMAINS} domains.")
    return domains


@dataclass(frozen=True)
class ProviderSettings:
    issuer: str
    client_id: str
    client_secret: str  # "" keeps the saved one
    domains: str


def save_provider(
    session: Session, *, admin: User, system: System, settings: ProviderSettings, now: datetime
) -> SsoConfig:
    """Save the provider's settings and the firm's domains; audited, secret left out.

    A changed issuer, client or secret needs a new "Test sign-in" before a
    requirement other than "MFA for all users" can be chosen again.
    """
    issuer = clean_issuer(settings.issuer)
    client_id = settings.client_id.strip()
    if not client_id or len(client_id) > 255:
        raise FieldError("client_id", "Enter the Client ID your provider gave Firmguard.")
    domains = clean_domains(settings.domains)
    taken = session.exec(
        select(SsoDomain.domain).where(
            SsoDomain.domain.in_(domains), SsoDomain.system_id != system.id
        )
    ).first()
    if taken:
        raise FieldError("domains", f"“{taken}” is already used by another firm.")
    config = config_of(session, system.id)
    secret = settings.client_secret.strip()
    if config is None and not secret:
        raise FieldError("client_secret", "Enter the client secret your provider gave Firmguard.")
    before = {
        "issuer": config.issuer if config else None,
        "client_id": config.client_id if config else None,
        "domains": firm_domains(session, system.id),
    }
    after = {"issuer": issuer, "client_id": client_id, "domains": sorted(domains)}
    diff = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    if config is not None and not diff and not secret:
        return config
    # The domains first: if another firm takes one meanwhile, nothing has changed yet.
    _replace_domains(session, system.id, domains)
    if config is None:
        config = SsoConfig(
            system_id=system.id,
            issuer=issuer,
            client_id=client_id,
            client_secret_encrypted="",
            created_at=now,
        )
    config.issuer, config.client_id = issuer, client_id
    if secret:
        config.client_secret_encrypted = encrypt_secret(secret)
    if "issuer" in diff or "client_id" in diff or secret:
        config.tested_at = None
    config.updated_at = now
    session.add(config)
    audit.record(
        session,
        Action.SSO_SETTINGS_CHANGED,
        actor=admin,
        changes=diff,
        secret_replaced=bool(secret) and before["issuer"] is not None,
    )
    return config


def _replace_domains(session: Session, system_id: int, domains: list[str]) -> None:
    """The firm's domains become `domains`. Another firm claiming one at the same
    moment loses at the unique index, with a message instead of an error page."""
    try:
        with session.begin_nested():
            session.execute(
                sa.delete(SsoDomain).where(
                    SsoDomain.system_id == system_id, SsoDomain.domain.not_in(domains)
                )
            )
            have = set(firm_domains(session, system_id))
            session.add_all(
                SsoDomain(system_id=system_id, domain=domain)
                for domain in domains
                if domain not in have
            )
            session.flush()
    except IntegrityError as error:
        raise FieldError(
            "domains", "One of these domains was just taken by another firm."
        ) from error


def replace_secret(
    session: Session, *, admin: User, config: SsoConfig, secret: str, now: datetime
) -> None:
    """A new client secret (the old one is gone; a test is due again)."""
    secret = (secret or "").strip()
    if not secret or len(secret) > 1000:
        raise FieldError("client_secret", "Enter the new client secret.")
    config.client_secret_encrypted = encrypt_secret(secret)
    config.tested_at = None
    config.updated_at = now
    session.add(config)
    audit.record(session, Action.SSO_SECRET_REPLACED, actor=admin)


@dataclass(frozen=True)
class RequirementSettings:
    requirement: str
    break_glass_ids: list[int]
    provider_enforces_mfa: bool
    create_users: bool


def save_requirement(
    session: Session,
    *,
    admin: User,
    admin_method: str,
    config: SsoConfig,
    settings: RequirementSettings,
    now: datetime,
) -> int:
    """Change the sign-in requirement and its companions; return how many users'
    sessions ended (moving to "SSO only" signs out everyone but the break-glass
    admins and the admin making the change, whose own sign-in must then be SSO
    or break-glass).
    """
    requirement = settings.requirement
    if requirement not in REQUIREMENT_LABELS:
        raise FieldError("requirement", "Choose a sign-in requirement.")
    if requirement in SSO_REQUIREMENTS and config.tested_at is None:
        raise FieldError(
            "requirement",
            "Run “Test sign-in” successfully first: until then only “MFA for all users” "
            "can be chosen.",
        )
    break_glass = sorted(set(settings.break_glass_ids))
    if requirement == SignInRequirement.SSO_ONLY.value:
        _check_break_glass(session, config.system_id, break_glass)
        if admin.id not in break_glass and admin_method not in SSO_METHODS:
            raise FieldError(
                "requirement",
                "You signed in without single sign-on: add yourself to the break-glass admins, or "
                "sign in with single sign-on, before choosing “SSO only”.",
            )
    before = {
        "requirement": config.requirement,
        "break_glass_ids": sorted(config.break_glass_ids or []),
        "create_users": config.create_users,
    }
    after = {
        "requirement": requirement,
        "break_glass_ids": break_glass,
        "create_users": settings.create_users,
    }
    diff = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    acknowledged = settings.provider_enforces_mfa != config.provider_enforces_mfa
    if not diff and not acknowledged:
        return 0
    config.requirement = requirement
    config.break_glass_ids = break_glass
    config.create_users = settings.create_users
    config.provider_enforces_mfa = settings.provider_enforces_mfa
    config.updated_at = now
    session.add(config)
    if diff:
        audit.record(
            session,
            Action.SSO_REQUIREMENT_CHANGED,
            actor=admin,
            changes=diff,
        )
    if acknowledged:
        audit.record(
            session,
            Action.SSO_PROVIDER_MFA_ACKNOWLEDGED,
            actor=admin,
            acknowledged=settings.provider_enforces_mfa,
        )
    if requirement != SignInRequirement.SSO_ONLY.value or not (
        "requirement" in diff or "break_glass_ids" in diff
    ):
        return 0
    # Sessions signed in with a password end; SSO users sign straight back in.
    return session.execute(
        sa.update(User)
        .where(
            User.system_id == config.system_id,
            User.id.not_in([*break_glass, admin.id]),
        )
        .values(session_version=User.session_version + 1)
    ).rowcount


def break_glass_choices(session: Session, system_id: int) -> dict[str, str]:
    """The firm's active admins, the break-glass candidates."""
    admins = session.exec(
        select(User)
        .where(User.system_id == system_id, User.role == "admin", User.active == sa.true())
        .order_by(User.search_key)
    )
    return {str(admin.id): f"{admin.display_name} ({admin.email})" for admin in admins}


def _check_break_glass(session: Session, system_id: int, ids: list[int]) -> None:
    """At least one, each an active admin of the firm with MFA (they keep password + code)."""
    if not ids:
        raise FieldError(
            "break_glass",
            "Choose at least one break-glass admin, so that a broken provider cannot lock "
            "the firm out.",
        )
    admins = session.exec(
        select(User).where(
            User.id.in_(ids),
            User.system_id == system_id,
            User.role == "admin",
            User.active == sa.true(),
        )
    ).all()
    if len(admins) != len(ids):
        raise FieldError("break_glass", "Break-glass admins must be active admins of this firm.")
    without = [admin.display_name for admin in admins if not admin.mfa_enabled]
    if without:
        raise FieldError(
            "break_glass",
            f"{', '.join(without)} must set up MFA first: break-glass admins sign in with "
            "password and code.",
        )


@dataclass(frozen=True)
class TestReport:
    """What a "Test sign-in" found, for the admin to read before enforcing anything."""

    ok: bool
    message: str = ""
    issuer: str | None = None
    email: str | None = None
    email_verified: bool | None = None
    amr: list | None = None
    domain_is_yours: bool | None = None

    @property
    def provider_mfa(self) -> bool:
        return bool(self.amr) and "mfa" in self.amr


def record_test(
    session: Session,
    *,
    admin: User,
    system_id: int,
    done: Completed | None,
    failure: SsoFailure | None,
    now: datetime,
) -> TestReport:
    """Note a finished "Test sign-in" (audited; a good one marks the settings tested)."""
    if done is None:
        report = TestReport(ok=False, message=failure.message if failure else "")
        details = {"ok": False, "reason": failure.reason.value if failure else None}
    else:
        claims = done.claims
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        domain = email.rpartition("@")[2].lower() if email else None
        amr = claims.get("amr") if isinstance(claims.get("amr"), list) else None
        report = TestReport(
            ok=True,
            issuer=claims.get("iss"),
            email=email,
            email_verified=claims.get("email_verified") is True,
            amr=[str(value) for value in amr] if amr is not None else None,
            domain_is_yours=domain in firm_domains(session, system_id) if domain else False,
        )
        details = {
            "ok": True,
            "issuer": report.issuer,
            "email": email,
            "email_verified": report.email_verified,
            "amr": report.amr,
        }
        done.config.tested_at = now
        session.add(done.config)
    audit.record(
        session,
        Action.SSO_TEST_SIGN_IN,
        actor=admin,
        **details,
    )
    return report
