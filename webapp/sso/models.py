"""The single sign-on tables (webapp.models re-exports them): a firm's provider,
its email domains, and each trip to the provider."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


class SignInMethod(StrEnum):
    """How a session (and a user's last sign-in) was started."""

    PASSWORD = "password"  # noqa: S105 (a method's name)
    SSO = "sso"  # through the firm's OpenID provider
    SSO_MFA = "sso_mfa"  # through the provider, whose ID token's `amr` holds "mfa"
    PASSKEY = "passkey"  # "Sign in with a passkey": no password, both factors at once


SSO_METHODS = (SignInMethod.SSO.value, SignInMethod.SSO_MFA.value)


class SignInRequirement(StrEnum):
    """What a firm with single sign-on accepts in place of Firmguard's code."""

    MFA = "mfa"  # Firmguard's MFA as today; SSO replaces the password only
    SSO_OR_MFA = "sso_or_mfa"  # an SSO sign-in needs no code and counts as MFA
    SSO_ONLY = "sso_only"  # as SSO_OR_MFA, and password sign-in only for break-glass admins


class SsoConfig(SQLModel, table=True):
    """A firm's OpenID Connect single sign-on: its provider and its rules."""

    __tablename__ = "sso_configs"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", sa_column_kwargs={"unique": True})
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=255)
    # Fernet token, like TOTP secrets (webapp/crypto.py); never shown again.
    client_secret_encrypted: str = Field(max_length=1000)
    requirement: str = Field(default=SignInRequirement.MFA.value, max_length=12)
    # The admin's word that the provider always asks for a second factor.
    provider_enforces_mfa: bool = Field(default=False)
    create_users: bool = Field(default=False)
    # Admins who keep password + MFA under "SSO only" (user ids).
    break_glass_ids: list[int] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    # Set by a successful "Test sign-in"; cleared when the provider settings change.
    tested_at: datetime | None = Field(default=None, sa_column=utc_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class SsoDomain(SQLModel, table=True):
    """An email domain a firm owns: finds the firm at "Work email" (unique across firms)."""

    __tablename__ = "sso_domains"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", index=True)
    domain: str = Field(max_length=253, sa_column_kwargs={"unique": True})


@expires("single sign-on trips", lambda row, now, _: row.expires_at <= now)
class SsoAttempt(SQLModel, table=True):
    """One trip to the provider: its state and nonce, single use, bound to one browser.

    The state travels through the provider; the browser's session holds a
    random token whose hash is `browser_hash`, so a callback URL replayed, or
    opened in another browser, finds nothing to complete.
    """

    __tablename__ = "sso_attempts"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    browser_hash: str = Field(max_length=64)
    system_id: int = Field(foreign_key="systems.id", index=True)
    # "sign_in", or "test" for an admin's "Test sign-in" (then user_id is the admin).
    purpose: str = Field(max_length=10)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    nonce: str = Field(max_length=100)
    code_verifier: str = Field(max_length=200)
    next_target: str | None = Field(default=None, max_length=500)
    # Deleted once expired, used or not, by the hourly retention run.
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
