"""Saved views of the users list."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.conftest import sign_in
from webapp.models import (
    ListView,
)

# --- Saved views ---------------------------------------------------------------


def test_saved_views_round_trip(admin_client, factory, firm, session):
    response = admin_client.post_form(
        "/admin/views",
        {"name": "Users lacking MFA", "query": "mfa=off&role=user&junk=1&page=3", "shared": "y"},
        token_from="/admin/users",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users?mfa=off&role=user"
    view = session.exec(select(ListView)).one()
    assert (view.name, view.query, view.shared) == ("Users lacking MFA", "mfa=off&role=user", True)

    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert '<option value="mfa=off&amp;role=user">Users lacking MFA (shared)</option>' in page
    assert '<option value="mfa=off&amp;active=yes">Users without MFA</option>' in page  # built in
    picked = admin_client.get("/admin/users?view=mfa%3Doff%26role%3Duser")
    assert picked.headers["Location"] == "/admin/users?mfa=off&role=user"

    renamed = admin_client.post_form(
        f"/admin/views/{view.id}/rename",
        {f"view-{view.id}-name": "Staff without MFA"},
        token_from="/admin/users",
    )
    assert renamed.status_code == 302
    session.refresh(view)
    assert view.name == "Staff without MFA"

    # Another admin sees the shared view, but may not change it.
    factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    bob = admin_client.application.test_client()
    sign_in(bob, "bob@harbour.example")
    assert "Staff without MFA (shared)" in bob.get("/admin/users").get_data(as_text=True)

    deleted = admin_client.post_form(f"/admin/views/{view.id}/delete", token_from="/admin/users")
    assert deleted.status_code == 302
    assert session.exec(select(ListView)).all() == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_view_needs_a_name(admin_client, session, name):
    response = admin_client.post_form(
        "/admin/views", {"name": name, "query": "mfa=off"}, token_from="/admin/users"
    )
    assert response.status_code == 422
    assert session.exec(select(ListView)).all() == []


def test_private_view_is_not_shown_to_other_admins(admin_client, factory, firm):
    admin_client.post_form(
        "/admin/views", {"name": "Private one", "query": "role=admin"}, token_from="/admin/users"
    )
    factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    bob = admin_client.application.test_client()
    sign_in(bob, "bob@harbour.example")
    assert "Private one" not in bob.get("/admin/users").get_data(as_text=True)
