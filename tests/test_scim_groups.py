"""SCIM Groups: one group per role, so an identity provider's group assignment
makes admins; the firm always keeps an active admin; pushed groups kept as sent."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import select

from tests.conftest import sign_in
from tests.scim_support import Scim, make_token
from webapp.models import AuditEvent, User

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def firm(app, factory):
    system = factory.system("Kauri Law")
    return {
        "system": system,
        "admin": factory.user(system, email="ana@kauri.example", name="Ana Admin", admin=True),
        "user": factory.user(system, email="ben@kauri.example", name="Ben User"),
        "secret": make_token(app, system),
    }


@pytest.fixture
def scim(app, firm) -> Scim:
    return Scim(app.test_client(), firm["secret"])


def member_values(response) -> list[str]:
    return [member["value"] for member in response.json.get("members", [])]


def role_of(session, user) -> str:
    row = session.get(User, user.id)
    session.refresh(row)
    return row.role


def test_the_role_groups_list_the_users_with_each_role(scim, firm):
    found = scim.call("GET", '/Groups?filter=displayName eq "admins"')
    assert found.status_code == 200, found.get_data(as_text=True)
    (admins,) = found.json["Resources"]
    assert (admins["id"], admins["displayName"]) == ("admin", "Admins")
    assert [member["value"] for member in admins["members"]] == [str(firm["admin"].id)]
    assert member_values(scim.call("GET", "/Groups/user")) == [str(firm["user"].id)]
    # Entra reads groups without their members: none are read, none are sent.
    light = scim.call("GET", "/Groups?excludedAttributes=members").json["Resources"]
    assert [group["displayName"] for group in light] == ["Admins", "Users"]
    assert all("members" not in group for group in light)
    ben = scim.call("GET", f"/Users/{firm['user'].id}").json
    assert [(group["value"], group["display"]) for group in ben["groups"]] == [("user", "Users")]


def test_adding_to_admins_makes_an_admin_and_removing_makes_a_user(app, scim, firm, session):
    ben = firm["user"]
    added = scim.patch_group("admin", {"op": "add", "path": "members", "value": [{"value": str(ben.id)}]})
    assert added.status_code == 200, added.get_data(as_text=True)
    assert role_of(session, ben) == "admin"
    browser = app.test_client()
    sign_in(browser, ben.email)
    assert browser.get("/admin/users").status_code == 200  # the admin pages are open to him
    removed = scim.patch_group("admin", {"op": "remove", "path": f'members[value eq "{ben.id}"]'})
    assert removed.status_code == 200 and str(ben.id) not in member_values(removed)
    assert role_of(session, ben) == "user"
    assert browser.get("/admin/users").status_code == 403
    events = session.exec(
        select(AuditEvent).where(AuditEvent.subject_id == ben.id, AuditEvent.action == "scim.user_updated")
    ).all()
    assert [event.details["changes"]["role"] for event in events] == [["user", "admin"], ["admin", "user"]]
    assert {event.details["scim_token"] for event in events} == {"Entra ID"}


def test_adding_an_admin_to_users_makes_them_a_user_and_put_sets_the_members(scim, firm, factory, session):
    cara = factory.user(firm["system"], email="cara@kauri.example", name="Cara", admin=True)
    assert scim.patch_group("user", {"op": "add", "path": "members", "value": [{"value": str(cara.id)}]}).status_code == 200
    assert role_of(session, cara) == "user"
    replaced = scim.call(
        "PUT",
        "/Groups/admin",
        {"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{"value": str(cara.id)}, {"value": str(firm["admin"].id)}]},
    )
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    assert role_of(session, cara) == "admin"
    renamed = scim.call("PUT", "/Groups/admin", {"schemas": [GROUP_SCHEMA], "displayName": "Bosses"})
    assert renamed.status_code == 400 and renamed.json["scimType"] == "mutability"
    assert scim.call("DELETE", "/Groups/admin").status_code == 400
    assert role_of(session, cara) == "admin"


@pytest.mark.parametrize(
    "change",
    [
        ("PATCH", {"op": "remove", "path": "members"}),
        ("PUT", {"schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": []}),
        ("USERS", None),
    ],
)
def test_the_last_active_admin_cannot_be_taken_out(scim, firm, session, change):
    method, body = change
    admin = firm["admin"]
    if method == "PATCH":
        response = scim.patch_group("admin", body)
    elif method == "PUT":
        response = scim.call("PUT", "/Groups/admin", body)
    else:
        response = scim.patch_group("user", {"op": "add", "path": "members", "value": [{"value": str(admin.id)}]})
    assert response.status_code == 409 and "last active admin" in response.json["detail"]
    assert role_of(session, admin) == "admin"


def test_pushed_groups_are_kept_and_give_no_rights(scim, firm, session):
    ben = firm["user"]
    created = scim.call(
        "POST",
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "Litigation", "externalId": "g-1", "members": [{"value": str(ben.id)}]},
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    group_id = created.json["id"]
    assert member_values(created) == [str(ben.id)] and role_of(session, ben) == "user"
    user = scim.call("GET", f"/Users/{ben.id}").json
    assert ("Litigation", group_id) in [(group["display"], group["value"]) for group in user["groups"]]
    found = scim.call("GET", f'/Groups?filter=members[value eq "{ben.id}"]').json["Resources"]
    assert [group["displayName"] for group in found] == ["Users", "Litigation"]
    assert scim.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "ADMINS"}).status_code == 409
    assert scim.call("DELETE", f"/Groups/{group_id}").status_code == 204
    assert scim.call("GET", f"/Groups/{group_id}").status_code == 404


def test_groups_of_one_firm_are_out_of_reach_of_another(app, factory, scim, firm):
    other = factory.system("Rimu Legal")
    stranger = factory.user(other, email="sam@rimu.example", name="Sam", admin=True)
    rimu = Scim(app.test_client(), make_token(app, other))
    theirs = rimu.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Rimu team"}).json["id"]
    assert scim.call("GET", f"/Groups/{theirs}").status_code == 404
    assert scim.call("DELETE", f"/Groups/{theirs}").status_code == 404
    assert "Rimu team" not in scim.call("GET", "/Groups").get_data(as_text=True)
    # Their user cannot be made a member (nor an admin) here.
    refused = scim.patch_group("admin", {"op": "add", "path": "members", "value": [{"value": str(stranger.id)}]})
    assert refused.status_code == 400 and refused.json["scimType"] == "invalidValue"
    assert str(stranger.id) not in member_values(scim.call("GET", "/Groups/admin"))
    assert member_values(rimu.call("GET", "/Groups/admin")) == [str(stranger.id)]


def test_two_requests_at_once_cannot_remove_both_remaining_admins(app, factory, firm, session):
    """The last-admin rule under concurrency: one request deactivates an admin,
    the other takes the second admin out of "Admins", released together (from
    two tokens, so nothing else orders them); Edit user's guard
    (`stop_being_admin`) makes the second see the first's change and refuse. A few rounds, as a race
    without the lock is not lost every time."""
    ana = firm["admin"]
    cy = factory.user(firm["system"], email="cy@kauri.example", name="Cy", admin=True)
    clients = [Scim(app.test_client(), firm["secret"]), Scim(app.test_client(), make_token(app, firm["system"], name="Okta"))]
    for _ in range(4):
        for user in (ana, cy):
            row = session.get(User, user.id)
            row.active, row.role = True, "admin"
            session.add(row)
        session.commit()
        barrier = threading.Barrier(2)
        answers = []

        def send(request, barrier=barrier, answers=answers):
            barrier.wait()
            answers.append(request())

        requests = [
            lambda: clients[0].patch(ana.id, {"op": "replace", "path": "active", "value": False}),
            lambda: clients[1].patch_group("admin", {"op": "remove", "path": f'members[value eq "{cy.id}"]'}),
        ]
        threads = [threading.Thread(target=send, args=(request,)) for request in requests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(response.status_code for response in answers) == [200, 409]
        session.expire_all()
        left = session.exec(select(User).where(User.system_id == firm["system"].id, User.active_admin)).all()
        assert len(left) == 1
