"""SCIM's Groups. One group per role — "Admins" (id `admin`) and "Users" (id
`user`) — whose members are the users with that role, so an identity
provider's group assignment makes (or unmakes) admins. Other groups a
provider pushes are kept as sent (`ScimGroup`) and give no rights.

Membership of a role group sets the role: added to "Admins", an admin;
removed from it, or added to "Users", a user. Removing someone from "Users"
changes nothing (everyone has a role). The firm keeps an active admin:
a change that would leave none is refused (409) before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from scim2_models import ScimFilter
from sqlmodel import Session, func, select

from webapp import audit
from webapp.accounts import lock_firm
from webapp.admin.user_edit import stop_being_admin
from webapp.audit import Action
from webapp.models import Role, ScimGroup, ScimGroupMember, ScimToken, System, User
from webapp.scim import filters
from webapp.scim.errors import ScimProblem
from webapp.scim.schema import MAX_RESULTS, ROLE_GROUPS, ScimGroupResource, group_resource
from webapp.scim.users import LAST_ADMIN, MAX_EXTERNAL_ID


@dataclass(frozen=True)
class Group:
    """A role group (`role` set, no row) or a pushed group (`row` set)."""

    id: str
    name: str
    role: str | None = None
    row: ScimGroup | None = None

    @property
    def external_id(self) -> str | None:
        return self.row.external_id if self.row else None


ROLE_GROUP_LIST = [Group(role, name, role=role) for role, name in ROLE_GROUPS.items()]


def find_group(session: Session, system_id: int, group_id: str) -> Group | None:
    for group in ROLE_GROUP_LIST:
        if group.id == group_id:
            return group
    if not (group_id.isascii() and group_id.isdigit()) or int(group_id) > 2**31 - 1:
        return None
    row = session.get(ScimGroup, int(group_id))
    return pushed(row) if row is not None and row.system_id == system_id else None


def pushed(row: ScimGroup) -> Group:
    return Group(str(row.id), row.display_name, row=row)


def member_ids(session: Session, system_id: int, group: Group) -> list[int]:
    """The group's members (users SCIM still shows), by id."""
    query = select(User.id).where(User.system_id == system_id, User.deprovisioned_at.is_(None))
    if group.role:
        query = query.where(User.role == group.role)
    else:
        query = query.join(ScimGroupMember, ScimGroupMember.user_id == User.id).where(
            ScimGroupMember.group_id == group.row.id
        )
    return list(session.exec(query.order_by(User.id)))


def resource(
    session: Session, system_id: int, group: Group, base: str, with_members: bool = True
) -> ScimGroupResource:
    members = member_ids(session, system_id, group) if with_members else None
    name = group.row.display_name if group.row else group.name  # as changed by this request
    return group_resource(group.id, name, group.external_id, members, base)


@dataclass(frozen=True)
class Page:
    total: int
    start_index: int
    groups: list[ScimGroupResource]


def list_groups(
    session: Session,
    system_id: int,
    scim_filter: ScimFilter | None,
    start_index: int,
    count: int,
    base: str,
    with_members: bool,
) -> Page:
    """The role groups (matched in memory) then the pushed ones (in SQL), by id."""
    start_index, count = max(start_index, 1), min(max(count, 0), MAX_RESULTS)
    roles = [resource(session, system_id, group, base) for group in ROLE_GROUP_LIST]
    if scim_filter is not None:
        roles = [group for group in roles if scim_filter.match(group)]
    if not with_members:
        for group in roles:
            group.members = None
    conditions = [ScimGroup.system_id == system_id]
    if scim_filter is not None:
        conditions.append(filters.group_where(scim_filter))
    total = (
        len(roles)
        + session.exec(select(func.count()).select_from(ScimGroup).where(*conditions)).one()
    )
    shown = roles[start_index - 1 : start_index - 1 + count]
    wanted = count - len(shown)
    if wanted > 0:
        rows = session.exec(
            select(ScimGroup)
            .where(*conditions)
            .order_by(ScimGroup.id)
            .offset(max(start_index - 1 - len(roles), 0))
            .limit(wanted)
        )
        shown += [resource(session, system_id, pushed(row), base, with_members) for row in rows]
    return Page(total, start_index, shown)


def _name(resource: ScimGroupResource) -> str:
    name = " ".join((resource.display_name or "").split())
    if not name or len(name) > 200:
        raise ScimProblem(400, "displayName must be 1 to 200 characters.", "invalidValue")
    if resource.external_id and len(resource.external_id) > MAX_EXTERNAL_ID:
        raise ScimProblem(400, "externalId is longer than 255 characters.", "invalidValue")
    return name


def _name_free(session: Session, system_id: int, name: str, row: ScimGroup | None = None) -> None:
    taken = any(group.name.casefold() == name.casefold() for group in ROLE_GROUP_LIST) or any(
        other is not row
        for other in session.exec(
            select(ScimGroup).where(
                ScimGroup.system_id == system_id,
                sa.func.lower(ScimGroup.display_name) == name.casefold(),
            )
        )
    )
    if taken:
        raise ScimProblem(409, "A group with this displayName already exists.", "uniqueness")


def _wanted_members(session: Session, system_id: int, resource: ScimGroupResource) -> set[int]:
    """The users a group resource lists: each must be a user of the firm SCIM shows."""
    wanted = {member.value for member in resource.members or [] if member.value is not None}
    ids = {
        int(value) for value in wanted if value.isascii() and value.isdigit() and len(value) < 10
    }
    found = (
        set(
            session.exec(
                select(User.id).where(
                    User.id.in_(ids), User.system_id == system_id, User.deprovisioned_at.is_(None)
                )
            )
        )
        if ids
        else set()
    )
    if len(found) != len(wanted):
        raise ScimProblem(400, "A member is not a user of this firm.", "invalidValue")
    return found


def create_group(
    session: Session, token: ScimToken, system: System, resource: ScimGroupResource
) -> Group:
    name = _name(resource)
    _name_free(session, system.id, name)
    members = _wanted_members(session, system.id, resource)
    row = ScimGroup(system_id=system.id, display_name=name, external_id=resource.external_id)
    session.add(row)
    session.flush()
    session.add_all(ScimGroupMember(group_id=row.id, user_id=user_id) for user_id in members)
    audit.record(
        session,
        Action.SCIM_GROUP_CHANGED,
        system=system,
        scim_token=token.name,
        group=name,
        change="created",
        members=len(members),
    )
    return pushed(row)


def update_group(
    session: Session, token: ScimToken, system: System, group: Group, resource: ScimGroupResource
) -> None:
    """Make `group` what `resource` says (PUT, and PATCH once applied)."""
    name = _name(resource)
    wanted = _wanted_members(session, system.id, resource)
    current = set(member_ids(session, system.id, group))
    if group.role:
        if name.casefold() != group.name.casefold():
            raise ScimProblem(400, f"The role group {group.name} keeps its name.", "mutability")
        _set_roles(session, token, system, group, added=wanted - current, removed=current - wanted)
        return
    if name != group.row.display_name:
        _name_free(session, system.id, name, group.row)
    group.row.display_name, group.row.external_id = name, resource.external_id
    session.add(group.row)
    if current - wanted:
        session.execute(
            sa.delete(ScimGroupMember).where(
                ScimGroupMember.group_id == group.row.id,
                ScimGroupMember.user_id.in_(current - wanted),
            )
        )
    session.add_all(
        ScimGroupMember(group_id=group.row.id, user_id=user_id) for user_id in wanted - current
    )
    audit.record(
        session,
        Action.SCIM_GROUP_CHANGED,
        system=system,
        scim_token=token.name,
        group=name,
        change="updated",
        added=len(wanted - current),
        removed=len(current - wanted),
    )


def _set_roles(
    session: Session, token: ScimToken, system: System, group: Group, *, added: set, removed: set
) -> None:
    """Role group membership → roles: added ones get the group's role; removed
    from "Admins" become users; removed from "Users" keep their role."""
    new_role = {user_id: group.role for user_id in added}
    if group.role == Role.ADMIN.value:
        new_role.update({user_id: Role.USER.value for user_id in removed})
    users = session.exec(select(User).where(User.id.in_(new_role))).all() if new_role else []
    changing = [user for user in users if user.role != new_role[user.id]]
    if any(user.active_admin for user in changing):
        # The firm's row before any user's (the lock order `lock_firm` asks for).
        lock_firm(session, system.id)
    # All or nothing: a refused demotion undoes the ones before it.
    with session.begin_nested():
        for user in changing:
            old, role = user.role, new_role[user.id]
            if user.active_admin and role != Role.ADMIN.value:
                # The last-admin rule, safe against changes at once (Edit user's).
                if not stop_being_admin(session, user, role, user.active):
                    raise ScimProblem(409, LAST_ADMIN)
            else:
                user.role = role
                session.add(user)
            audit.record(
                session,
                Action.SCIM_USER_UPDATED,
                subject=user,
                scim_token=token.name,
                changes={"role": [old, role]},
            )


def delete_group(session: Session, token: ScimToken, system: System, group: Group) -> None:
    if group.role:
        raise ScimProblem(400, f"The role group {group.name} cannot be deleted.", "mutability")
    session.execute(sa.delete(ScimGroupMember).where(ScimGroupMember.group_id == group.row.id))
    session.delete(group.row)
    audit.record(
        session,
        Action.SCIM_GROUP_CHANGED,
        system=system,
        scim_token=token.name,
        group=group.name,
        change="deleted",
    )


def groups_of(session: Session, user_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """The pushed groups each user is in, as (id, name): one query for a page."""
    found: dict[int, list[tuple[str, str]]] = {user_id: [] for user_id in user_ids}
    if user_ids:
        rows = session.exec(
            select(ScimGroupMember.user_id, ScimGroup.id, ScimGroup.display_name)
            .join(ScimGroup, ScimGroup.id == ScimGroupMember.group_id)
            .where(ScimGroupMember.user_id.in_(user_ids))
            .order_by(ScimGroup.id)
        )
        for user_id, group_id, name in rows:
            found[user_id].append((str(group_id), name))
    return found
