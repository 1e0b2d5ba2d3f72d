"""What Firmguard's SCIM service serves, as scim2-models resources: the User
resource (only the attributes Firmguard keeps), the discovery documents built
from it, and a user row as a SCIM User.

Only attributes Firmguard stores are published, so an identity provider (and
a conformance checker) reads back exactly what it wrote. `userName` is the
email; `emails` is derived from it, so it is read-only (RFC 7643 §7: read-only
attributes sent by a client are ignored). `groups` is read-only as in RFC 7643.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    CaseExact,
    ChangePassword,
    ComplexAttribute,
    Email,
    ETag,
    Filter,
    GroupMembership,
    Meta,
    Mutability,
    Patch,
    Reference,
    Required,
    Resource,
    ResourceType,
    Schema,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
)

from webapp.models import Role, User
from webapp.passwords.tokens import invited

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MAX_RESULTS = 200  # the largest page of a list (`count`), as ServiceProviderConfig says
# What Firmguard tolerates from identity providers (scim2-models reads every
# payload under it): attributes it does not keep (`name`, `title`, extensions)
# are dropped rather than refused, and Microsoft Entra's PATCH habits (a
# `remove` naming its value, a `replace` of a filtered entry not there yet)
# are understood.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
# One group per role (README, "Provisioning (SCIM)"): its id is the role's value.
ROLE_GROUPS = {Role.ADMIN.value: "Admins", Role.USER.value: "Users"}


class ScimUser(Resource):
    """RFC 7643's User, cut down to what a Firmguard user has."""

    __schema__ = URN(USER_SCHEMA)

    user_name: Annotated[str | None, Uniqueness.server, Required.true] = None
    """The user's email, with which they sign in."""

    # Required here (optional in RFC 7643): every Firmguard user has a name.
    display_name: Annotated[str | None, Required.true] = None

    # Required here: a user is on or off; a client that leaves it out gets on.
    active: Annotated[bool | None, Required.true] = None

    emails: Annotated[list[Email] | None, Mutability.read_only] = None

    groups: Annotated[list[GroupMembership] | None, Mutability.read_only] = None


class ScimMember(ComplexAttribute):
    """A member of a group: a user of the firm (groups do not nest here)."""

    value: Annotated[str | None, Mutability.immutable, CaseExact.true] = None
    ref: Annotated[Reference["User"] | None, Mutability.immutable] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    type: Annotated[str | None, Mutability.immutable] = Field(None, examples=["User"])


class ScimGroupResource(Resource):
    """RFC 7643's Group: a name and its members (users)."""

    __schema__ = URN(GROUP_SCHEMA)

    display_name: Annotated[str | None, Required.true, Uniqueness.server] = None
    members: list[ScimMember] | None = None


def user_schema() -> Schema:
    schema = ScimUser.to_schema()
    schema.name, schema.description = "User", "User Account"
    return schema


def group_schema() -> Schema:
    schema = ScimGroupResource.to_schema()
    schema.name, schema.description = "Group", "Group"
    return schema


def schemas() -> list[Schema]:
    """Every schema /Schemas lists: User's, Group's and the discovery documents' own."""
    return [user_schema(), group_schema(), *(model.to_schema() for model in DISCOVERY_MODELS)]


DISCOVERY_MODELS = (ServiceProviderConfig, ResourceType, Schema)


def resource_types(base: str) -> list[ResourceType]:
    user = ResourceType(
        id="User",
        name="User",
        description="User Account",
        endpoint="/Users",
        schema_=URN(USER_SCHEMA),
    )
    user.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/User")
    group = ResourceType(
        id="Group", name="Group", description="Group", endpoint="/Groups", schema_=URN(GROUP_SCHEMA)
    )
    group.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/Group")
    return [user, group]


def service_provider_config(base: str, documentation: str) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=documentation,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="A token from Security settings, Provisioning (SCIM).",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )


def scim_active(user: User) -> bool:
    """SCIM's `active`: an invited user (waiting for "Set your password", the firm
    asked for invitations) is what the identity provider asked for, active, though
    not active here until they set it (README, "Provisioning (SCIM)")."""
    return user.active or invited(user)


def user_resource(user: User, base: str, groups: list[tuple[str, str]] = ()) -> ScimUser:
    """A user row as the SCIM User a client reads (`groups`: the pushed groups
    they are in, as (id, name); their role group comes first)."""
    return ScimUser(
        id=str(user.id),
        external_id=user.external_id,
        user_name=user.email,
        display_name=user.display_name,
        active=scim_active(user),
        emails=[Email(value=user.email, type="work", primary=True)],
        groups=[
            GroupMembership(
                value=group_id, ref=f"{base}/Groups/{group_id}", display=name, type="direct"
            )
            for group_id, name in [(user.role, ROLE_GROUPS.get(user.role, user.role)), *groups]
        ],
        meta=Meta(
            resource_type="User",
            created=user.created_at,
            location=f"{base}/Users/{user.id}",
        ),
    )


def without_email_operations(body: dict) -> dict:
    """A PATCH body without its changes to `emails`: the address is userName,
    and `emails` only shows it. Entra sends `emails[type eq "work"].value`
    alongside userName; refusing the whole PATCH for it would stall its
    provisioning, so those operations are ignored, as a PUT's read-only
    values are (RFC 7644 §3.5.1)."""
    operations = body.get("Operations")
    if not isinstance(operations, list):
        return body
    kept = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = operation.get("path")
        if isinstance(path, str) and path.split("[")[0].split(".")[0].lower().endswith("emails"):
            continue
        value = operation.get("value")
        if path is None and isinstance(value, dict):
            value = {key: item for key, item in value.items() if key.lower() != "emails"}
            operation = {**operation, "value": value}
        kept.append(operation)
    return {**body, "Operations": kept}


def member(user_id: int, base: str) -> ScimMember:
    return ScimMember(value=str(user_id), ref=f"{base}/Users/{user_id}", type="User")


def group_resource(
    group_id: str, name: str, external_id: str | None, member_ids: list[int] | None, base: str
) -> ScimGroupResource:
    """A group as a client reads it (`member_ids` None: members not asked for)."""
    return ScimGroupResource(
        id=group_id,
        external_id=external_id,
        display_name=name,
        members=None if not member_ids else [member(user_id, base) for user_id in member_ids],
        meta=Meta(resource_type="Group", location=f"{base}/Groups/{group_id}"),
    )
