"""Creating systems and users, with the validation the CLI and admin pages share."""

from __future__ import annotations

import zoneinfo

import sqlalchemy as sa
from sqlmodel import Session, select

from webapp.auth.services import find_user_by_email, normalize_email
from webapp.countries import COUNTRIES
from webapp.crypto import hash_password
from webapp.models import AccountingLink, HeadsUpRule, Role, System, User
from webapp.plain_text import has_control_characters

MIN_PASSWORD_LENGTH = 12
NAME_CONTROL_CHARACTERS = "The name must not hold control characters (line breaks, tabs …)."


class InvalidInput(ValueError):
    """Input that is refused, with a message fit to show the person who gave it."""


class FieldError(InvalidInput):
    """Refused input that belongs to one form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def lock_firm(session: Session, system_id: int) -> None:
    """Take the firm's row lock until the transaction ends (PostgreSQL; SQLite
    has one writer at a time anyway), so that changes to its admins queue.

    Lock order: the firm's row first, then users' rows. A request that writes
    a user's row and then needs the firm (a step-up proof, then a demotion)
    takes this lock before its first write, or two such requests (two admins
    demoting each other) would each hold a row the other waits for: a
    deadlock. FOR NO KEY UPDATE: rows that only refer to the firm (audit
    events) neither wait for it nor hold it up.
    """
    session.execute(
        sa.select(System.__table__.c.id)
        .where(System.__table__.c.id == system_id)
        .with_for_update(key_share=True)
    )


def valid_email(email: str) -> bool:
    """A plausible address (normalised first): the app's one rule for emails."""
    local, _, domain = email.partition("@")
    return (
        bool(local)
        and "." in domain
        and len(email) <= 254
        and not any(c.isspace() for c in email)
        and not has_control_characters(email)
    )


def find_system(session: Session, name: str) -> System | None:
    return session.exec(select(System).where(System.name == name.strip())).first()


def create_system(
    session: Session, name: str, *, country: str, timezone: str, accounting: str = "none"
) -> System:
    """Create a system and its default heads-up rule (the caller commits)."""
    name = name.strip()
    country = country.strip().upper()
    if not name or len(name) > 200:
        raise InvalidInput("The system name must be 1 to 200 characters.")
    if has_control_characters(name):
        raise InvalidInput(
            "The system name must not hold control characters (line breaks, tabs …): "
            "it appears in the subject of the firm's emails."
        )
    if country not in COUNTRIES:
        raise InvalidInput(f"Unknown country code {country!r}: use ISO 3166 alpha-2, e.g. NZ.")
    if not valid_timezone(timezone):
        raise InvalidInput(
            f"Unknown timezone {timezone!r}: use an IANA name, e.g. Pacific/Auckland."
        )
    if accounting not in {link.value for link in AccountingLink}:
        raise InvalidInput("Accounting must be one of xero, other, none.")
    if find_system(session, name):
        raise InvalidInput(f"A system called {name!r} already exists.")
    system = System(name=name, country=country, timezone=timezone, accounting_link=accounting)
    session.add(system)
    session.flush()
    session.add(HeadsUpRule(system_id=system.id))
    return system


def create_user(
    session: Session,
    system: System,
    *,
    email: str,
    name: str,
    password: str,
    admin: bool = False,
) -> User:
    """Create a user in `system` (the caller commits)."""
    email = normalize_email(email)
    name = name.strip()
    if not valid_email(email):
        raise InvalidInput(f"{email!r} is not a valid email address.")
    if not name or len(name) > 200:
        raise InvalidInput("The name must be 1 to 200 characters.")
    if has_control_characters(name):
        raise InvalidInput(NAME_CONTROL_CHARACTERS)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if find_user_by_email(session, email):
        raise InvalidInput(f"A user with the email {email} already exists.")
    user = User(
        system_id=system.id,
        email=email,
        display_name=name,
        password_hash=hash_password(password),
        role=Role.ADMIN.value if admin else Role.USER.value,
    )
    user.refresh_search_key()
    session.add(user)
    session.flush()
    return user
