"""Every route of the app has an access rule, checked for each kind of visitor.

A new route without a line in RULES fails `test_every_route_has_a_rule`, so
nobody can add a page and forget who may reach it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests.conftest import sign_in
from tests.scim_support import make_token
from webapp.models import BrowserSession, ListView, Passkey, ScimToken, UserImport

PUBLIC, PENDING, SIGNED_IN, ADMIN = "public", "pending", "signed-in", "admin"
# A JSON route of the code step: no password step in progress, a 409 the script shows.
PENDING_JSON = "pending-json"
# A signed-in user's own object ({passkey} is "user"'s): anyone else finds nothing.
OWN = "own"
# A passkey ceremony's JSON route: signed in, and refused (403, a message the
# script shows) without a fresh "Confirm it's you" (tests/test_passkey_step_up.py).
STEP_UP_JSON = "step-up-json"
# The SCIM API: a bearer token only; a browser's cookie, even an admin's, gets 401.
BEARER = "bearer"

# endpoint: (rule, method, path); {user} and {view} are system A's objects
# ({browser_session} is a session of "user"'s).
RULES = {
    "static": (PUBLIC, "GET", "/static/css/app.css"),
    "health.healthz": (PUBLIC, "GET", "/healthz"),
    "auth.index": (PUBLIC, "GET", "/"),
    "auth.sign_in": (PUBLIC, "GET", "/sign-in"),
    "auth.sign_out": (PUBLIC, "POST", "/sign-out"),
    "auth.verify": (PENDING, "GET", "/sign-in/verify"),
    "auth.recovery": (PENDING, "GET", "/sign-in/recovery"),
    "mfa.profile": (SIGNED_IN, "GET", "/profile"),
    "mfa.prompt": (SIGNED_IN, "GET", "/mfa/prompt"),
    "mfa.setup": (SIGNED_IN, "GET", "/profile/mfa/setup"),
    "mfa.start_setup": (SIGNED_IN, "POST", "/profile/mfa/setup"),
    "mfa.confirm_setup": (SIGNED_IN, "POST", "/profile/mfa/setup/confirm"),
    "mfa.deactivate": (SIGNED_IN, "GET", "/profile/mfa/deactivate"),
    "mfa.recovery_codes": (SIGNED_IN, "GET", "/profile/mfa/recovery-codes"),
    "admin.users": (ADMIN, "GET", "/admin/users"),
    "admin.users_csv": (ADMIN, "GET", "/admin/users.csv"),
    "admin.edit_user": (ADMIN, "POST", "/admin/users/{user}"),
    "admin.add_user": (ADMIN, "GET", "/admin/users/new"),
    "admin.resend_invitation": (ADMIN, "POST", "/admin/users/{user}/invitation/resend"),
    "admin.revoke_invitation": (ADMIN, "POST", "/admin/users/{user}/invitation/revoke"),
    "admin.import_users": (ADMIN, "GET", "/admin/users/import"),
    "admin.import_template": (ADMIN, "GET", "/admin/users/import/template.csv"),
    "admin.send_invitations": (ADMIN, "POST", "/admin/users/import/{user_import}/send"),
    "admin.save_view": (ADMIN, "POST", "/admin/views"),
    "admin.rename_view": (ADMIN, "POST", "/admin/views/{view}/rename"),
    "admin.delete_view": (ADMIN, "POST", "/admin/views/{view}/delete"),
    "admin.security": (ADMIN, "GET", "/admin/security"),
    "admin.enforcement": (ADMIN, "POST", "/admin/security/enforcement"),
    "admin.system_settings": (ADMIN, "POST", "/admin/security/system"),
    "admin.heads_up": (ADMIN, "POST", "/admin/security/heads-up"),
    "admin.send_heads_up_now": (ADMIN, "POST", "/admin/security/heads-up/send-now"),
    "admin.audit_log": (ADMIN, "GET", "/admin/audit"),
    "sso_admin.provider": (ADMIN, "POST", "/admin/security/sso"),
    "sso_admin.secret": (ADMIN, "POST", "/admin/security/sso/secret"),
    "sso_admin.test_sign_in": (ADMIN, "POST", "/admin/security/sso/test"),
    "sso_admin.requirement": (ADMIN, "POST", "/admin/security/sso/requirement"),
    "reminders.remind": (ADMIN, "POST", "/admin/reminders"),
    "reminders.remind_everyone": (ADMIN, "POST", "/admin/reminders/everyone"),
    "sso.start": (PUBLIC, "GET", "/sign-in/sso"),
    "sso.callback": (PUBLIC, "GET", "/sign-in/sso/callback"),
    "admin.audit_csv": (ADMIN, "GET", "/admin/audit.csv"),
    "auth.passkey_options": (PENDING_JSON, "POST", "/sign-in/passkey/options"),
    "auth.passkey_step": (PENDING, "POST", "/sign-in/passkey"),
    "auth.passwordless_options": (PUBLIC, "POST", "/sign-in/with-passkey/options"),
    "auth.passwordless": (PUBLIC, "POST", "/sign-in/with-passkey"),
    "passkeys.registration_options": (STEP_UP_JSON, "POST", "/profile/passkeys/options"),
    "passkeys.add": (STEP_UP_JSON, "POST", "/profile/passkeys"),
    "passkeys.start": (SIGNED_IN, "GET", "/profile/passkeys/new"),
    "passkeys.rename": (OWN, "GET", "/profile/passkeys/{passkey}/rename"),
    "passkeys.remove": (OWN, "GET", "/profile/passkeys/{passkey}/remove"),
    "limits.unlock": (PUBLIC, "GET", "/sign-in/unlock/not-a-token"),
    "limits.clear_lock": (ADMIN, "POST", "/admin/users/{user}/sign-in-lock"),
    "passwords.forgot": (PUBLIC, "GET", "/password/forgot"),
    "passwords.open_link": (PUBLIC, "GET", "/password/reset/not-a-token"),
    "passwords.set_password": (PUBLIC, "GET", "/password/set"),
    "passwords.open_invitation": (PUBLIC, "GET", "/invitation/not-a-token"),
    "passwords.invitation_ended": (PUBLIC, "GET", "/invitation/ended"),
    "passwords.change": (SIGNED_IN, "GET", "/profile/password"),
    "scim_admin.create_token": (ADMIN, "POST", "/admin/security/scim/tokens"),
    "scim_admin.revoke_token": (ADMIN, "POST", "/admin/security/scim/tokens/{token}/revoke"),
    "scim_admin.save_invitations": (ADMIN, "POST", "/admin/security/scim/invitations"),
    "scim.list_users": (BEARER, "GET", "/scim/v2/Users"),
    "scim.search_users": (BEARER, "POST", "/scim/v2/Users/.search"),
    "scim.create_user": (BEARER, "POST", "/scim/v2/Users"),
    "scim.get_user": (BEARER, "GET", "/scim/v2/Users/{user}"),
    "scim.replace_user": (BEARER, "PUT", "/scim/v2/Users/{user}"),
    "scim.patch_user": (BEARER, "PATCH", "/scim/v2/Users/{user}"),
    "scim.delete_user": (BEARER, "DELETE", "/scim/v2/Users/{user}"),
    "scim.service_provider_config": (BEARER, "GET", "/scim/v2/ServiceProviderConfig"),
    "scim.resource_types": (BEARER, "GET", "/scim/v2/ResourceTypes"),
    "scim.resource_type": (BEARER, "GET", "/scim/v2/ResourceTypes/User"),
    "scim.schemas": (BEARER, "GET", "/scim/v2/Schemas"),
    "scim.one_schema": (BEARER, "GET", "/scim/v2/Schemas/{schema}"),
    "scim.search_everything": (BEARER, "POST", "/scim/v2/.search"),
    "scim.list_groups": (BEARER, "GET", "/scim/v2/Groups"),
    "scim.search_groups": (BEARER, "POST", "/scim/v2/Groups/.search"),
    "scim.create_group": (BEARER, "POST", "/scim/v2/Groups"),
    "scim.get_group": (BEARER, "GET", "/scim/v2/Groups/admin"),
    "scim.replace_group": (BEARER, "PUT", "/scim/v2/Groups/user"),
    "scim.patch_group": (BEARER, "PATCH", "/scim/v2/Groups/user"),
    "scim.delete_group": (BEARER, "DELETE", "/scim/v2/Groups/admin"),
    # "Use a passkey" in "Confirm it's you": only for a user with passkeys ("user" has two).
    "passkeys.step_up_options": (OWN, "POST", "/step-up/passkey/options"),
    "browser_sessions.sign_out_one": (OWN, "POST", "/profile/sessions/{browser_session}/sign-out"),
    "browser_sessions.sign_out_others": (SIGNED_IN, "POST", "/profile/sessions/sign-out-others"),
    "browser_sessions.sign_out_everywhere": (ADMIN, "POST", "/admin/users/{user}/sessions/sign-out"),
}
# Routes whose GET and POST differ get a second line for the other method.
EXTRA = [
    ("admin.edit_user", ADMIN, "GET", "/admin/users/{user}"),
    ("admin.add_user", ADMIN, "POST", "/admin/users/new"),
    ("admin.import_users", ADMIN, "POST", "/admin/users/import"),
    ("mfa.deactivate", SIGNED_IN, "POST", "/profile/mfa/deactivate"),
    ("mfa.recovery_codes", SIGNED_IN, "POST", "/profile/mfa/recovery-codes"),
    ("auth.verify", PENDING, "POST", "/sign-in/verify"),
    ("sso.start", PUBLIC, "POST", "/sign-in/sso"),
    ("passkeys.rename", OWN, "POST", "/profile/passkeys/{passkey}/rename"),
    ("passkeys.remove", OWN, "POST", "/profile/passkeys/{passkey}/remove"),
    ("passwords.forgot", PUBLIC, "POST", "/password/forgot"),
    ("passwords.set_password", PUBLIC, "POST", "/password/set"),
    ("passwords.change", SIGNED_IN, "POST", "/profile/password"),
]
CASES = [(endpoint, *rule) for endpoint, rule in RULES.items()] + EXTRA
VISITORS = ["anonymous", "user", "admin", "other-system admin"]


def test_every_route_has_a_rule(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(RULES)


@pytest.fixture
def firm(app, factory, session):
    system_a = factory.system("System A")
    system_b = factory.system("System B")
    users = {
        "user": factory.user(system_a, email="user@a.example"),
        "admin": factory.user(system_a, email="admin@a.example", admin=True),
        "other-system admin": factory.user(system_b, email="admin@b.example", admin=True),
    }
    view = ListView(system_id=system_a.id, owner_id=users["admin"].id, name="Mine", query="mfa=off")
    # Two passkeys, so removing one is not turning MFA off.
    passkeys = [
        Passkey(
            user_id=users["user"].id,
            credential_id=bytes([number]) * 16,
            public_key=b"key",
            user_handle=b"handle",
            name=f"Key {number}",
        )
        for number in (1, 2)
    ]
    browser_session = BrowserSession(user_id=users["user"].id, session_version=1)
    user_import = UserImport(
        system_id=system_a.id,
        admin_id=users["admin"].id,
        rows=[["new@a.example", "New", "user"]],
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    session.add_all([view, *passkeys, browser_session, user_import])
    session.commit()
    secret = make_token(app, system_a)
    token = session.exec(select(ScimToken)).one()
    objects = {
        "user": users["user"].id,
        "view": view.id,
        "passkey": passkeys[0].id,
        "token": token.id,
        "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
        "browser_session": browser_session.id,
        "user_import": user_import.id,
    }
    return {"users": users, "objects": objects, "secret": secret}


def visit(client, method: str, path: str, signed_in: bool):
    if path.startswith("/scim/"):
        return client.open(path, method=method, json={})
    if method == "GET":
        response = client.get(path)
        response.close()  # static files are streamed
        return response
    return client.post_form(path, {}, token_from="/profile" if signed_in else "/sign-in")


@pytest.mark.parametrize(("endpoint", "rule", "method", "template"), CASES)
def test_route_answers_each_visitor_by_its_rule(app, firm, endpoint, rule, method, template):
    path = template.format(**firm["objects"])
    for visitor in VISITORS:
        client = app.test_client()
        if visitor != "anonymous":
            sign_in(client, firm["users"][visitor].email)
        response = visit(client, method, path, signed_in=visitor != "anonymous")
        assert expected(rule, visitor, template, response), (
            f"{method} {path} as {visitor}: {response.status_code} {response.headers.get('Location')}"
        )


def expected(rule: str, visitor: str, template: str, response) -> bool:
    """Whether `response` is what `rule` promises `visitor`."""
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return False
    if rule == BEARER:
        return status == 401 and response.json["status"] == "401"
    if rule == PUBLIC:
        return status not in (401, 403, 404)
    if rule == PENDING:  # no password step in progress: back to the sign-in form
        return status == 302 and location.startswith("/sign-in")
    if rule == PENDING_JSON:
        return status == 409
    if visitor == "anonymous":
        return status == 302 and location.startswith("/sign-in?next=")
    if rule == SIGNED_IN:
        return status not in (401, 403, 404)
    if rule == STEP_UP_JSON:
        return status == 403 and "error" in (response.get_json(silent=True) or {})
    if rule == OWN:
        return status == 404 if visitor != "user" else status not in (401, 403, 404)
    if visitor == "user":
        return status == 403
    if visitor == "other-system admin" and "{" in template:
        return status == 404
    return status not in (401, 403, 404)


@pytest.mark.parametrize(
    ("endpoint", "method", "template"),
    [(endpoint, method, template) for endpoint, (rule, method, template) in RULES.items() if rule == BEARER],
)
def test_scim_routes_answer_their_firms_token(app, firm, endpoint, method, template):
    path = template.format(**firm["objects"])
    headers = {"Authorization": f"Bearer {firm['secret']}"}
    response = app.test_client().open(path, method=method, json={}, headers=headers)
    # /.search across resource types is not served: RFC 7644 §3.12's 501 says so.
    served = response.status_code < 500 or (endpoint == "scim.search_everything" and response.status_code == 501)
    assert served and response.status_code not in (401, 403), (
        f"{method} {path}: {response.status_code} {response.get_data(as_text=True)}"
    )
    assert response.mimetype == "application/scim+json" or response.status_code == 204
