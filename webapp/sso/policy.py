"""What a firm's single sign-on counts for: one rule, one place.

A sign-in through the firm's OpenID provider replaces Firmguard's code, and
counts as MFA in the users list, the heads-up digest and enforcement, only
where the firm's "Sign-in requirement" says so ("SSO or MFA", "SSO only").
The NZ/AU compliance rule asks more: the provider must say it checked a second
factor (`amr` holds "mfa"), or an admin must have acknowledged "Our provider
enforces MFA".
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import g
from sqlmodel import Session, select

from webapp.models import SSO_METHODS, SignInMethod, SignInRequirement, SsoConfig, User

SSO_REQUIREMENTS = (SignInRequirement.SSO_OR_MFA.value, SignInRequirement.SSO_ONLY.value)


@dataclass(frozen=True)
class Coverage:
    """What a sign-in proved in place of Firmguard's MFA."""

    requirement: bool = False  # the firm's "Require MFA for all users" is met
    compliance: bool = False  # the NZ/AU rule is met


NO_COVERAGE = Coverage()


@dataclass(frozen=True)
class SsoPolicy:
    """A firm's sign-in rules (the defaults: no single sign-on)."""

    requirement: str = SignInRequirement.MFA.value
    provider_enforces_mfa: bool = False
    break_glass_ids: frozenset[int] = frozenset()

    @property
    def counts_sso(self) -> bool:
        """Whether a sign-in through the provider counts as MFA."""
        return self.requirement in SSO_REQUIREMENTS

    def coverage(self, method: str | None) -> Coverage:
        """What a session started by `method` counts for."""
        if not self.counts_sso or method not in SSO_METHODS:
            return NO_COVERAGE
        provider_mfa = method == SignInMethod.SSO_MFA.value or self.provider_enforces_mfa
        return Coverage(requirement=True, compliance=provider_mfa)

    def replaces_code(self, method: str) -> bool:
        """Whether a sign-in by `method` skips Firmguard's code step."""
        return self.coverage(method).requirement

    def allows_password(self, user: User) -> bool:
        """Password sign-in: refused under "SSO only", except for break-glass
        admins who have MFA (they keep password + code)."""
        if self.requirement != SignInRequirement.SSO_ONLY.value:
            return True
        return user.id in self.break_glass_ids and user.is_admin and user.mfa_enabled


def policy_of(config: SsoConfig | None) -> SsoPolicy:
    if config is None:
        return SsoPolicy()
    return SsoPolicy(
        requirement=config.requirement,
        provider_enforces_mfa=config.provider_enforces_mfa,
        break_glass_ids=frozenset(config.break_glass_ids or ()),
    )


def policy_for(session: Session, system_id: int) -> SsoPolicy:
    """The firm's policy, read once per request."""
    cache = g.setdefault("sso_policies", {})
    if system_id not in cache:
        config = session.exec(select(SsoConfig).where(SsoConfig.system_id == system_id)).first()
        cache[system_id] = policy_of(config)
    return cache[system_id]


# --- The same rule in SQL ---------------------------------------------------


def signed_in_with_sso():
    """The user's last sign-in was through the firm's provider (NULL-safe)."""
    method = User.last_sign_in_method
    return sa.and_(method.is_not(None), method.in_(SSO_METHODS))


def with_mfa(counts_sso: bool):
    """Users who count as having MFA in one firm whose policy is known."""
    if not counts_sso:
        return User.mfa_enabled == sa.true()
    return sa.or_(User.mfa_enabled == sa.true(), signed_in_with_sso())


def without_mfa(counts_sso: bool):
    """The complement of `with_mfa` (written so an index on mfa_enabled serves it)."""
    if not counts_sso:
        return User.mfa_enabled == sa.false()
    return sa.and_(User.mfa_enabled == sa.false(), sa.not_(signed_in_with_sso()))


def sso_counted_in_own_firm(*, compliance: bool = False):
    """For queries over many firms: the user's last sign-in was SSO and their
    firm counts it (for `compliance`, only with the provider's word for MFA)."""
    firm_counts = select(SsoConfig.id).where(
        SsoConfig.system_id == User.system_id, SsoConfig.requirement.in_(SSO_REQUIREMENTS)
    )
    if compliance:
        firm_counts = firm_counts.where(
            sa.or_(
                SsoConfig.provider_enforces_mfa == sa.true(),
                User.last_sign_in_method == SignInMethod.SSO_MFA.value,
            )
        )
    return sa.and_(signed_in_with_sso(), firm_counts.exists())


def active_without_mfa_by_firm(*, compliance: bool = False):
    """Active users without MFA by their own firm's rules (many firms at once)."""
    return sa.and_(User.active_without_mfa, sa.not_(sso_counted_in_own_firm(compliance=compliance)))


def active_with_mfa_by_firm():
    """Active users with MFA, or with a single sign-on their firm counts as MFA."""
    return sa.and_(
        User.active == sa.true(),
        sa.or_(User.mfa_enabled == sa.true(), sso_counted_in_own_firm()),
    )
