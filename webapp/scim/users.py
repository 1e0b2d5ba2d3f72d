"""SCIM's User changes on Firmguard users: provision, replace or patch,
deprovision. One firm at a time (the token's); each change audited with the
token's name; refusals raise ScimProblem before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, func, select

from webapp import audit
from webapp.accounts import valid_email
from webapp.admin import invitations
from webapp.admin.user_edit import stop_being_admin
from webapp.audit import Action
from webapp.auth.services import find_user_by_email, normalize_email
from webapp.crypto import NO_PASSWORD
from webapp.models import Role, ScimToken, System, User
from webapp.offboarding import end_access
from webapp.passwords.tokens import invited
from webapp.scim import filters
from webapp.scim.errors import ScimProblem
from webapp.scim.schema import MAX_RESULTS, ScimUser, scim_active

LAST_ADMIN = "This is the firm's last active admin: make someone else an admin first."
MAX_EXTERNAL_ID = 255


def find_user(session: Session, system_id: int, resource_id: str) -> User | None:
    """The firm's user with this SCIM id, unless a SCIM client deleted them."""
    if not (resource_id.isascii() and resource_id.isdigit()) or int(resource_id) > 2**31 - 1:
        return None
    user = session.get(User, int(resource_id))
    if user is None or user.system_id != system_id or user.deprovisioned_at is not None:
        return None
    return user


@dataclass(frozen=True)
class Page:
    total: int
    start_index: int
    users: list[User]


def list_users(
    session: Session, system_id: int, filter_text: str | None, start_index: int, count: int
) -> Page:
    """The firm's users matching the filter, by id; `start_index` is 1-based."""
    conditions = [User.system_id == system_id, User.deprovisioned_at.is_(None)]
    if filter_text:
        try:
            conditions.append(filters.where(filter_text))
        except filters.InvalidFilter as error:
            raise ScimProblem(400, str(error), "invalidFilter") from error
    start_index = max(start_index, 1)
    count = min(max(count, 0), MAX_RESULTS)
    total = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    users = []
    if count:
        users = list(
            session.exec(
                select(User)
                .where(*conditions)
                .order_by(User.id)
                .offset(start_index - 1)
                .limit(count)
            )
        )
    return Page(total, start_index, users)


@dataclass(frozen=True)
class Wanted:
    """A user as a SCIM client wants them, checked."""

    email: str
    display_name: str
    active: bool
    external_id: str | None


def wanted(resource: ScimUser) -> Wanted:
    """What a User resource asks for, or ScimProblem (400) if Firmguard cannot keep it."""
    email = normalize_email(resource.user_name or "")
    if not valid_email(email):
        raise ScimProblem(400, "userName must be the user's email address.", "invalidValue")
    name = " ".join((resource.display_name or "").split())
    if not name or len(name) > 200:
        raise ScimProblem(400, "displayName must be 1 to 200 characters.", "invalidValue")
    external_id = resource.external_id
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        raise ScimProblem(400, "externalId is longer than 255 characters.", "invalidValue")
    return Wanted(email, name, bool(resource.active), external_id)


def _email_taken(session: Session, email: str, user: User | None = None) -> None:
    """Refuse an email someone else has, in whatever firm (and without saying which)."""
    other = find_user_by_email(session, email)
    if other is not None and other is not user:
        raise ScimProblem(409, "A user with this userName already exists.", "uniqueness")


def provision(
    session: Session, token: ScimToken, system: System, resource: ScimUser, now: datetime
) -> User:
    """Create a user in the token's firm (a user, not an admin: groups make admins)."""
    want = wanted(resource)
    _email_taken(session, want.email)
    user = User(
        system_id=system.id,
        email=want.email,
        display_name=want.display_name,
        password_hash=NO_PASSWORD,
        role=Role.USER.value,
        active=want.active,
        external_id=want.external_id,
    )
    user.refresh_search_key()
    try:
        with session.begin_nested():  # a simultaneous create of the same email
            session.add(user)
            session.flush()
    except sa.exc.IntegrityError as error:
        raise ScimProblem(409, "A user with this userName already exists.", "uniqueness") from error
    invitation = {"invited": True} if after_provisioning(session, user, system, now) else {}
    audit.record(
        session,
        Action.SCIM_USER_CREATED,
        subject=user,
        system=system,
        scim_token=token.name,
        **invitation,
    )
    return user


def after_provisioning(session: Session, user: User, system: System, now: datetime) -> bool:
    """Invite the new user by email ("Set your password") if the firm asks for it
    (Security settings → "Provisioning (SCIM)"; a firm that signs in with single
    sign-on usually does not, and its people sign in by SSO). True if invited.

    Invited as "Add user" invites: not active until they set their password
    (`webapp.passwords.services.set_with_token`), so no rule about active users
    counts them before. SCIM still reads them as active (`schema.scim_active`):
    that is what the identity provider asked for.
    """
    if not (system.scim_invitations and user.active):
        return False
    user.active = False
    user.invited_at = now
    session.add(user)
    invitations.send(session, None, user, now)
    return True


def update(
    session: Session, token: ScimToken, user: User, resource: ScimUser, now: datetime
) -> None:
    """Make `user` what `resource` says (PUT, and PATCH after it is applied)."""
    want = wanted(resource)
    if want.email != user.email:
        _email_taken(session, want.email, user)
    before = _fields(user)
    deactivating = scim_active(user) and not want.active
    if deactivating and user.active_admin and not stop_being_admin(session, user, user.role, False):
        raise ScimProblem(409, LAST_ADMIN)
    user.email, user.display_name = want.email, want.display_name
    user.external_id = want.external_id
    user.refresh_search_key()
    if deactivating:
        end_access(session, user, now)  # an invitation too: its link is used up
    if not invited(user):  # an open invitation stays open while the provider keeps them active
        user.active = want.active
    elif user.email != before["email"]:
        # The link went to the old address, which may be a typo or someone
        # else's: it dies, and a new one goes to the new address.
        invitations.send(session, None, user, now)
    session.add(user)
    diff = {
        field: [old, _fields(user)[field]]
        for field, old in before.items()
        if old != _fields(user)[field]
    }
    if diff:
        audit.record(
            session, Action.SCIM_USER_UPDATED, subject=user, changes=diff, scim_token=token.name
        )


def deprovision(session: Session, token: ScimToken, user: User, now: datetime) -> None:
    """DELETE: the user is deactivated (sessions end) and gone from SCIM; the
    row, its audit trail and its email stay."""
    was_active = scim_active(user)
    if user.active_admin and not stop_being_admin(session, user, user.role, False):
        raise ScimProblem(409, LAST_ADMIN)
    if was_active:
        end_access(session, user, now)
    user.deprovisioned_at = now
    session.add(user)
    audit.record(session, Action.SCIM_USER_DELETED, subject=user, scim_token=token.name)


def _fields(user: User) -> dict:
    return {
        "email": user.email,
        "display_name": user.display_name,
        "active": scim_active(user),
        "external_id": user.external_id,
    }
