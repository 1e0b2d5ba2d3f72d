"""Admin → Users & permissions → "Add user": a user invited by email.

The user is created not active (`invited_at` set, no usable password), so
every rule about active users leaves them out until they accept. The email
holds a single-use link valid 7 days (`webapp.passwords.tokens`, the row
holds its hash) to "Set your password"; setting it makes the user active
(`webapp.passwords.services.set_with_token`). "Resend invitation" issues a new link (the old one dies);
"Revoke invitation" kills the link and leaves the user deactivated (the
audit trail keeps pointing at them; Edit user can still activate them).

In a firm with single sign-on, whose domains hold the user's email, the
first sign-in through the firm's provider while the link is live accepts the
invitation too (`webapp.sso.flow.accept_invitation`); the email says so, and
under "SSO only" it offers that sign-in instead of a password to set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import url_for
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from webapp import audit, outbox
from webapp.accounts import NAME_CONTROL_CHARACTERS, FieldError, valid_email
from webapp.audit import Action
from webapp.auth.services import find_user_by_email, normalize_email
from webapp.crypto import NO_PASSWORD, token_hash
from webapp.models import Role, SignInRequirement, SsoConfig, SsoDomain, System, User
from webapp.passwords import tokens
from webapp.passwords.tokens import Purpose
from webapp.plain_text import has_control_characters
from webapp.sso.flow import email_domain

INVITATION_TTL = timedelta(days=7)
EMAIL_TAKEN = "That email is already used by another account. Use another email."
EMAIL_CONTROL_CHARACTERS = "The email must not hold control characters (line breaks, tabs …)."


def normalised_fields(email: str, display_name: str, role: str) -> tuple[str, str, str]:
    """The normalised (email, name, role), or `FieldError` for the first refused field."""
    if has_control_characters(email):
        raise FieldError("email", EMAIL_CONTROL_CHARACTERS)
    if has_control_characters(display_name):
        raise FieldError("display_name", NAME_CONTROL_CHARACTERS)
    email = normalize_email(email)
    if not valid_email(email):
        raise FieldError("email", "Enter an email address like name@firm.example.")
    name = " ".join(display_name.split())
    if not name or len(name) > 200:
        raise FieldError("display_name", "The name must be 1 to 200 characters.")
    if role not in {member.value for member in Role}:
        raise FieldError("role", "Choose a role.")
    return email, name, role


def checked_fields(session: Session, email: str, display_name: str, role: str):
    """`normalised_fields`, and the email is nobody's yet."""
    email, name, role = normalised_fields(email, display_name, role)
    if find_user_by_email(session, email) is not None:
        # Unique across all firms; which firm holds it is not said.
        raise FieldError("email", EMAIL_TAKEN)
    return email, name, role


def new_invited_user(system_id: int, email: str, name: str, role: str, now: datetime) -> User:
    """The user an invitation makes (to add): not active until they set a
    password, and until then no password matches theirs."""
    user = User(
        system_id=system_id,
        email=email,
        display_name=name,
        role=role,
        active=False,
        invited_at=now,
        password_hash=NO_PASSWORD,
    )
    user.refresh_search_key()
    return user


def inserted(session: Session, user: User) -> bool:
    """Add `user`, unless the unique email index refuses (someone took the
    email at this very moment): False then, and nothing else is undone."""
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        return False
    return True


def invite(
    session: Session, *, admin: User, email: str, display_name: str, role: str, now: datetime
) -> User:
    """Create the invited user in the admin's firm and email the invitation."""
    email, name, role = checked_fields(session, email, display_name, role)
    user = new_invited_user(admin.system_id, email, name, role, now)
    if not inserted(session, user):
        # Two admins adding the same email at once: the one that lost is told
        # as if it had been taken before.
        raise FieldError("email", EMAIL_TAKEN)
    audit.record(session, Action.USER_INVITED, actor=admin, subject=user, role=role)
    send(session, admin, user, now)
    return user


def send(session: Session, admin: User | None, user: User, now: datetime) -> None:
    """A new invitation link for `user` (any older one is used up), by email.

    `admin` None: the firm's identity provider added them (SCIM,
    `webapp.scim.users.after_provisioning`), so the email names the firm as
    who invited them; a token is no person.
    """
    token = tokens.issue(session, user, Purpose.INVITATION, INVITATION_TTL, now)
    system = session.get(System, user.system_id)
    inviter = admin.display_name if admin is not None else system.name
    sso = firm_sso(session, system.id)
    outbox.insert_rows(session, [invitation_email(system, inviter, user, token, now, sso)])


def invitation_email(
    system: System,
    admin_name: str,
    user: User,
    token: str,
    now: datetime,
    sso: FirmSso | None = None,
) -> dict:
    """The outbox row of the email that carries `token` to `user` (`admin_name`:
    who invited them, a person or the firm; `sso`: the firm's single sign-on,
    `firm_sso`, looked up by the caller once for many emails). Under "SSO
    only" the button is the single sign-on; the link stays the invitation's
    validity (`webapp.sso.flow.accept_invitation`) without being shown."""
    return outbox.email_row_values(
        kind="invitation",
        recipient=user.email,
        subject=f"{admin_name} invited you to Firmguard",
        template="invitation",
        dedupe_key=f"invitation:{token_hash(token)[:32]}",
        system_id=system.id,
        timezone=system.timezone,
        firm_name=system.name,
        user=user,
        admin_name=admin_name,
        system_name=system.name,
        expires_at=now + INVITATION_TTL,
        days=INVITATION_TTL.days,
        invitation_path=url_for("passwords.open_invitation", token=token),
        sso_only=sso is not None and sso.only(user),
        sso_too=sso is not None and sso.covers(user) and not sso.only(user),
        sso_path=url_for("sso.start"),
    )


@dataclass(frozen=True)
class FirmSso:
    """A firm's single sign-on as its invitations tell of it."""

    requirement: str
    domains: frozenset[str]

    def covers(self, user: User) -> bool:
        """Whether the firm's provider can sign `user` in (their email's domain is the firm's)."""
        return email_domain(user.email) in self.domains

    def only(self, user: User) -> bool:
        """Single sign-on is `user`'s only way in: no password to set."""
        return self.covers(user) and self.requirement == SignInRequirement.SSO_ONLY.value


def firm_sso(session: Session, system_id: int) -> FirmSso | None:
    """The firm's single sign-on (one query, once per invitation or per import),
    or None when it has none, or no email domains for it."""
    rows = session.exec(
        select(SsoConfig.requirement, SsoDomain.domain)
        .join(SsoDomain, SsoDomain.system_id == SsoConfig.system_id)
        .where(SsoConfig.system_id == system_id)
    ).all()
    if not rows:
        return None
    return FirmSso(rows[0][0], frozenset(domain for _, domain in rows))


def resend(session: Session, *, admin: User, user: User, now: datetime) -> None:
    if not tokens.invited(user):
        raise FieldError("user", f"{user.display_name} has no open invitation.")
    send(session, admin, user, now)
    audit.record(session, Action.INVITATION_RESENT, actor=admin, subject=user)


def revoke(session: Session, *, admin: User, user: User, now: datetime) -> None:
    if not tokens.invited(user):
        raise FieldError("user", f"{user.display_name} has no open invitation.")
    tokens.use_up(session, user, now, Purpose.INVITATION)
    user.invited_at = None
    session.add(user)
    audit.record(session, Action.INVITATION_REVOKED, actor=admin, subject=user)
