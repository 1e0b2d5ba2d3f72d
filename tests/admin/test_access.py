"""Admin pages are for the admins of their own firm only."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in
from webapp.models import (
    ListView,
    User,
)

# --- Authorisation -----------------------------------------------------------

ROUTES = [
    ("GET", "/admin/users"),
    ("GET", "/admin/users.csv"),
    ("GET", "/admin/users/{user}"),
    ("POST", "/admin/users/{user}"),
    ("POST", "/admin/views"),
    ("POST", "/admin/views/{view}/rename"),
    ("POST", "/admin/views/{view}/delete"),
    ("GET", "/admin/security"),
    ("POST", "/admin/security/enforcement"),
    ("POST", "/admin/security/system"),
    ("POST", "/admin/security/heads-up"),
    ("GET", "/admin/audit"),
]


def request_route(client, method, path, token_from):
    if method == "GET":
        return client.get(path)
    return client.post_form(path, {"display_name": "Hacked", "name": "x"}, token_from=token_from)


@pytest.fixture
def view_of_ann(firm, session):
    view = ListView(
        system_id=firm["system"].id, owner_id=firm["ann"].id, name="Mine", query="mfa=off"
    )
    session.add(view)
    session.commit()
    return view


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_anonymous_is_sent_to_sign_in(client, firm, view_of_ann, method, template):
    path = template.format(user=firm["zoe"].id, view=view_of_ann.id)
    response = request_route(client, method, path, token_from="/sign-in")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


@pytest.mark.parametrize(("method", "template"), ROUTES)
def test_non_admin_gets_403(client, firm, view_of_ann, session, method, template):
    sign_in(client, "zoe@harbour.example")
    path = template.format(user=firm["jose"].id, view=view_of_ann.id)
    assert request_route(client, method, path, token_from="/profile").status_code == 403
    assert session.get(User, firm["jose"].id).display_name == "José Álvarez"


@pytest.mark.parametrize(
    ("method", "template"),
    [route for route in ROUTES if "{user}" in route[1] or "{view}" in route[1]],
)
def test_other_systems_user_or_view_is_404(client, firm, view_of_ann, session, method, template):
    sign_in(client, "zoe@other.example")  # an admin, of the other firm
    path = template.format(user=firm["zoe"].id, view=view_of_ann.id)
    assert request_route(client, method, path, token_from="/profile").status_code == 404
    assert session.get(User, firm["zoe"].id).display_name == "Zoë Brown"
    assert session.get(ListView, view_of_ann.id) is not None


def test_another_admins_private_view_is_404_in_the_same_system(client, factory, firm, session):
    factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    view = ListView(system_id=firm["system"].id, owner_id=firm["ann"].id, name="Ann's", query="")
    session.add(view)
    session.commit()
    sign_in(client, "bob@harbour.example")
    response = client.post_form(f"/admin/views/{view.id}/delete", token_from="/admin/users")
    assert response.status_code == 404
    assert "Ann&#39;s" not in client.get("/admin/users").get_data(as_text=True)


def test_list_never_shows_another_system(admin_client):
    body = admin_client.get("/admin/users?q=zoe").get_data(as_text=True)
    assert "Zoë Brown" in body
    assert "Outsider" not in body and "zoe@other.example" not in body


def test_audit_log_is_read_only(admin_client):
    assert admin_client.post_form("/admin/audit", token_from="/admin/audit").status_code == 405
