"""SCIM 2.0 (RFC 7643/7644) under /scim/v2: a JSON API for a firm's identity
provider. Authenticated by bearer token only (never a cookie), exempt from
CSRF (no browser form posts here), rate-limited per token; every answer is
SCIM JSON. Thin: the logic is in `webapp.scim.users` and `webapp.scim.tokens`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, request
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    ListResponse,
    PatchOp,
    ResponseParameters,
    SCIMException,
    SearchRequest,
)

from webapp.extensions import csrf, db
from webapp.models import System, utcnow
from webapp.scim import groups, schema, tokens, users
from webapp.scim.errors import ScimProblem, error_response, scim_json

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")
csrf.exempt(bp)


def base_url() -> str:
    """The service's address, as clients and Security settings name it."""
    return current_app.config["BASE_URL"].rstrip("/") + bp.url_prefix


@bp.before_request
def authenticate():
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    token = tokens.authenticate(db.session, bearer.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return error_response(401, "A valid bearer token is required.")
    if not tokens.count_request(db.session, token, utcnow()):
        response = error_response(429, "Too many requests with this token: wait a minute.")
        response.headers["Retry-After"] = "60"
        return response
    g.scim_token = token
    return None


@bp.errorhandler(ScimProblem)
def refused(problem: ScimProblem):
    """A refusal decided before anything was written: answered, and committed
    (the token's request count and last use)."""
    return error_response(problem.status, problem.detail, problem.scim_type)


@bp.errorhandler(SCIMException)
def refused_by_model(error: SCIMException):
    body = error.to_error()
    return error_response(int(body.status), body.detail or str(error), body.scim_type)


@bp.errorhandler(ValidationError)
def invalid(error: ValidationError):
    first = Error.from_validation_errors(error)[0]
    return error_response(int(first.status), first.detail or "Invalid request.", first.scim_type)


def token_system() -> System:
    return db.session.get(System, g.scim_token.system_id)


def user_resource(user):
    pushed = groups.groups_of(db.session, [user.id])[user.id]
    return schema.user_resource(user, base_url(), pushed)


def user_json(user, status: int = 200, context=Context.RESOURCE_QUERY_RESPONSE):
    return resource_json(user_resource(user), schema.ScimUser, status, context)


def resource_json(resource, model, status: int, context):
    parameters = ResponseParameters[model].model_validate(
        {
            key: request.args[key]
            for key in ("attributes", "excludedAttributes")
            if key in request.args
        },
        scim_policy=schema.POLICY,
    )
    response = scim_json(
        resource.model_dump(scim_ctx=context, response_parameters=parameters), status
    )
    if status == 201:
        response.headers["Location"] = resource.meta.location
    return response


def request_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ScimProblem(400, "The body must be a JSON object.", "invalidSyntax")
    return body


def the_user(user_id: str):
    user = users.find_user(db.session, g.scim_token.system_id, user_id)
    if user is None:
        raise ScimProblem(404, f"No User {user_id}.")
    return user


@bp.route("/Users", methods=["GET"])
def list_users():
    return users_page(query_search(schema.ScimUser))


SEARCH_KEYS = ("filter", "startIndex", "count", "attributes", "excludedAttributes")


def query_search(model) -> SearchRequest:
    """A list request's query string, read as a SearchRequest (RFC 7644 §3.4.2)."""
    return SearchRequest[model].model_validate(
        {key: request.args[key] for key in SEARCH_KEYS if key in request.args},
        scim_policy=schema.POLICY,
    )


@bp.route("/Users/.search", methods=["POST"])
def search_users():
    return users_page(
        SearchRequest[schema.ScimUser].model_validate(request_body(), scim_policy=schema.POLICY)
    )


def users_page(search: SearchRequest):
    page = users.list_users(
        db.session,
        g.scim_token.system_id,
        search.filter,
        search.start_index or 1,
        schema.MAX_RESULTS if search.count is None else search.count,
    )
    pushed = groups.groups_of(db.session, [user.id for user in page.users])
    resources = [schema.user_resource(user, base_url(), pushed[user.id]) for user in page.users]
    return list_json(schema.ScimUser, search, page.total, page.start_index, resources)


def list_json(model, search: SearchRequest, total: int, start_index: int, resources: list):
    listing = ListResponse[model](
        total_results=total,
        start_index=start_index,
        items_per_page=len(resources),
        resources=resources,
    )
    parameters = ResponseParameters[model](
        attributes=search.attributes, excluded_attributes=search.excluded_attributes
    )
    return scim_json(
        listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=parameters)
    )


@bp.route("/Users", methods=["POST"])
def create_user():
    resource = schema.ScimUser.model_validate(
        request_body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=schema.POLICY
    )
    user = users.provision(db.session, g.scim_token, token_system(), resource, utcnow())
    return user_json(user, 201, Context.RESOURCE_CREATION_RESPONSE)


@bp.route("/Users/<user_id>", methods=["GET"])
def get_user(user_id: str):
    return user_json(the_user(user_id))


@bp.route("/Users/<user_id>", methods=["PUT"])
def replace_user(user_id: str):
    user = the_user(user_id)
    resource = schema.ScimUser.model_validate(
        request_body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=schema.POLICY
    )
    users.update(db.session, g.scim_token, user, resource, utcnow())
    return user_json(user, 200, Context.RESOURCE_REPLACEMENT_RESPONSE)


@bp.route("/Users/<user_id>", methods=["PATCH"])
def patch_user(user_id: str):
    user = the_user(user_id)
    body = schema.without_email_operations(request_body())
    patch = PatchOp[schema.ScimUser].model_validate(
        body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=schema.POLICY
    )
    resource = user_resource(user)
    patch.patch(resource, scim_policy=schema.POLICY)
    users.update(db.session, g.scim_token, user, resource, utcnow())
    return user_json(user, 200, Context.RESOURCE_PATCH_RESPONSE)


@bp.route("/Users/<user_id>", methods=["DELETE"])
def delete_user(user_id: str):
    users.deprovision(db.session, g.scim_token, the_user(user_id), utcnow())
    return "", 204


def the_group(group_id: str) -> groups.Group:
    group = groups.find_group(db.session, g.scim_token.system_id, group_id)
    if group is None:
        raise ScimProblem(404, f"No Group {group_id}.")
    return group


def group_json(group, status: int = 200, context=Context.RESOURCE_QUERY_RESPONSE):
    resource = groups.resource(db.session, g.scim_token.system_id, group, base_url())
    return resource_json(resource, schema.ScimGroupResource, status, context)


def wants_members(search: SearchRequest) -> bool:
    """Whether the answer shows members (Entra asks without: a big group's
    members are then not read)."""

    def names(paths) -> set[str]:
        return {str(path).rsplit(":", 1)[-1].split(".")[0].lower() for path in paths or []}

    if search.attributes:
        return "members" in names(search.attributes)
    return "members" not in names(search.excluded_attributes)


@bp.route("/Groups", methods=["GET"])
def list_groups():
    return groups_page(query_search(schema.ScimGroupResource))


@bp.route("/Groups/.search", methods=["POST"])
def search_groups():
    return groups_page(
        SearchRequest[schema.ScimGroupResource].model_validate(
            request_body(), scim_policy=schema.POLICY
        )
    )


def groups_page(search: SearchRequest):
    page = groups.list_groups(
        db.session,
        g.scim_token.system_id,
        search.filter,
        search.start_index or 1,
        schema.MAX_RESULTS if search.count is None else search.count,
        base_url(),
        wants_members(search),
    )
    return list_json(schema.ScimGroupResource, search, page.total, page.start_index, page.groups)


@bp.route("/Groups", methods=["POST"])
def create_group():
    resource = schema.ScimGroupResource.model_validate(
        request_body(), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=schema.POLICY
    )
    group = groups.create_group(db.session, g.scim_token, token_system(), resource)
    return group_json(group, 201, Context.RESOURCE_CREATION_RESPONSE)


@bp.route("/Groups/<group_id>", methods=["GET"])
def get_group(group_id: str):
    return group_json(the_group(group_id))


@bp.route("/Groups/<group_id>", methods=["PUT"])
def replace_group(group_id: str):
    group = the_group(group_id)
    resource = schema.ScimGroupResource.model_validate(
        request_body(), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST, scim_policy=schema.POLICY
    )
    groups.update_group(db.session, g.scim_token, token_system(), group, resource)
    return group_json(group, 200, Context.RESOURCE_REPLACEMENT_RESPONSE)


@bp.route("/Groups/<group_id>", methods=["PATCH"])
def patch_group(group_id: str):
    group = the_group(group_id)
    patch = PatchOp[schema.ScimGroupResource].model_validate(
        request_body(), scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=schema.POLICY
    )
    resource = groups.resource(db.session, g.scim_token.system_id, group, base_url())
    patch.patch(resource, scim_policy=schema.POLICY)
    groups.update_group(db.session, g.scim_token, token_system(), group, resource)
    return group_json(group, 200, Context.RESOURCE_PATCH_RESPONSE)


@bp.route("/Groups/<group_id>", methods=["DELETE"])
def delete_group(group_id: str):
    groups.delete_group(db.session, g.scim_token, token_system(), the_group(group_id))
    return "", 204


@bp.route("/ServiceProviderConfig")
def service_provider_config():
    config = schema.service_provider_config(base_url(), current_app.config["BASE_URL"])
    return scim_json(config.model_dump())


@bp.route("/ResourceTypes")
def resource_types():
    found = schema.resource_types(base_url())
    return scim_json(list_of(found))


@bp.route("/ResourceTypes/<type_id>")
def resource_type(type_id: str):
    for found in schema.resource_types(base_url()):
        if found.id == type_id:
            return scim_json(found.model_dump())
    raise ScimProblem(404, f"No resource type {type_id}.")


@bp.route("/Schemas")
def schemas():
    return scim_json(list_of(schema.schemas()))


@bp.route("/Schemas/<schema_id>")
def one_schema(schema_id: str):
    for found in schema.schemas():
        if found.id == schema_id:
            return scim_json(found.model_dump())
    raise ScimProblem(404, f"No schema {schema_id}.")


def list_of(resources: list) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": [resource.model_dump() for resource in resources],
    }


@bp.route("/.search", methods=["POST"])
def search_everything():
    raise ScimProblem(501, "Search one resource type at a time: POST /Users/.search.")
