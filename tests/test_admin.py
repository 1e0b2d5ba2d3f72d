"""Admin: Users & permissions, edit user (MFA reset), security settings, audit log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from webapp.admin import user_list
from webapp.admin.forms import FILTER_CHOICES, SORT_LABELS
from webapp.crypto import hash_recovery_code
from webapp.models import (
    AuditEvent,
    HeadsUpRule,
    ListView,
    RecoveryCode,
    System,
    TotpCredential,
    User,
    utcnow,
)

BILLING = "I accept the billing changes and understand the terms of use"


@pytest.fixture
def firm(factory):
    """A firm with an admin (Ann), four users and a second firm's user."""
    system = factory.system(name="Harbour Law")
    people = {
        "ann": factory.user(system, "ann@harbour.example", "Ann Admin", admin=True),
        "zoe": factory.user(system, "zoe@harbour.example", "Zoë Brown"),
        "jose": factory.user(system, "jose@harbour.example", "José Álvarez"),
        "liam": factory.user(system, "liam@harbour.example", "liam chen"),
        "mere": factory.user(system, "mere@harbour.example", "Mere Tūhoe"),
    }
    other = factory.system(name="Other Firm")
    people["outsider"] = factory.user(other, "zoe@other.example", "Zoë Outsider", admin=True)
    people["system"] = system
    return people


@pytest.fixture
def admin_client(client, firm):
    sign_in(client, "ann@harbour.example")
    return client


def enable_mfa(app, session, user_id: int) -> None:
    """MFA as `mfa_support` seeds it, plus a recovery code and a wrong-code count
    (what an admin's reset must clear)."""
    user = session.get(User, user_id)
    mfa_support.enable_mfa(app, session, user, secret="A" * 32, last_used_step=1)
    with app.app_context():
        session.add(RecoveryCode(user_id=user_id, code_hash=hash_recovery_code("abcd-efgh")))
    user.mfa_failed_count = 3
    session.add(user)
    session.commit()


def set_fields(session, user_id: int, **values) -> None:
    user = session.get(User, user_id)
    for name, value in values.items():
        setattr(user, name, value)
    session.add(user)
    session.commit()


def listed_names(response) -> list[str]:
    """The names in the users table, in order (from the results partial or page)."""
    body = response.get_data(as_text=True)
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    names = []
    for row in tbody.split("<tr>")[1:]:
        if "/admin/users/" in row:
            names.append(row.split('">', 2)[1].split("</a>", 1)[0])
    return names


def edit_form(user, **overrides) -> dict:
    data = {"display_name": user.display_name, "role": user.role, "active": "y"}
    if user.mfa_enabled:
        data["mfa_enabled"] = "y"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


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


# --- The users list ------------------------------------------------------------


def test_live_filter_returns_only_the_results_partial_for_htmx(admin_client):
    response = admin_client.get("/admin/users?q=zoe", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body and 'id="user-filters"' not in body
    assert listed_names(response) == ["Zoë Brown"]
    assert "1</strong> user matches" in body
    assert response.headers["Vary"] == "HX-Request" or "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HX-Request": "true", "HX-Boosted": "true"},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    ],
)
def test_whole_page_without_htmx_boosted_or_history_restore(admin_client, headers):
    body = admin_client.get("/admin/users?q=zoe", headers=headers).get_data(as_text=True)
    assert "<html" in body
    assert 'hx-trigger="search, keyup delay:200ms changed"' in body
    assert 'value="zoe"' in body  # the filter state comes back from the URL
    assert 'hx-push-url="true"' in body and "htmx-indicator" in body


def test_page_shows_mfa_column_and_summary(admin_client, app, session, firm):
    enable_mfa(app, session, firm["zoe"].id)
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert body.count('aria-label="MFA enabled"') == 1
    assert body.count('aria-label="MFA not enabled"') == 4
    assert "4 of 5 active users without MFA" in body and "(20% adoption)" in body
    assert body.count(">Edit</a>") == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        ("q=zoe", ["Zoë Brown"]),
        ("q=ZOË", ["Zoë Brown"]),
        ("q=alvarez", ["José Álvarez"]),
        ("q=tuhoe", ["Mere Tūhoe"]),
        ("q=liam%40harbour", ["liam chen"]),
        ("q=%25", []),  # a LIKE wildcard is searched for literally
        ("q=_", []),
        ("q=nobody", []),
        ("mfa=on", ["Zoë Brown"]),
        ("mfa=off&role=user", ["José Álvarez", "liam chen", "Mere Tūhoe"]),
        ("role=admin", ["Ann Admin"]),
        ("active=no", ["Mere Tūhoe"]),
        ("active=yes&mfa=off", ["Ann Admin", "José Álvarez", "liam chen"]),
        (
            "sort=name&dir=desc",
            ["Zoë Brown", "Mere Tūhoe", "liam chen", "José Álvarez", "Ann Admin"],
        ),
        ("sort=email", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        (
            "sort=mfa&dir=desc",
            ["Zoë Brown", "Mere Tūhoe", "liam chen", "José Álvarez", "Ann Admin"],
        ),
        ("sort=role", ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"]),
        ("sort=active", ["Mere Tūhoe", "Ann Admin", "José Álvarez", "liam chen", "Zoë Brown"]),
        (
            "sort=last_sign_in&dir=desc",
            ["liam chen", "José Álvarez", "Zoë Brown", "Mere Tūhoe", "Ann Admin"],
        ),
        (
            "sort=bogus&mfa=maybe",
            ["Ann Admin", "José Álvarez", "liam chen", "Mere Tūhoe", "Zoë Brown"],
        ),
    ],
)
def test_filters_and_sorts(admin_client, app, session, firm, query, expected):
    enable_mfa(app, session, firm["zoe"].id)
    set_fields(session, firm["mere"].id, active=False)
    base = utcnow() - timedelta(days=10)
    for days, key in enumerate(["ann", "mere", "zoe", "jose", "liam"]):
        set_fields(session, firm[key].id, last_sign_in_at=base + timedelta(days=days))
    response = admin_client.get(f"/admin/users?{query}", headers={"HX-Request": "true"})
    assert listed_names(response) == expected


@pytest.mark.parametrize("sort", sorted(user_list.SORTS))
def test_every_sort_has_an_index_in_its_exact_order(sort):
    # Paging a 100,000-user list stays fast only if an index yields the ORDER BY.
    order = ["system_id", *(column.key for column in user_list.SORTS[sort]), "id"]
    indexes = [[column.name for column in index.columns] for index in User.__table__.indexes]
    assert order in indexes


def test_clicking_a_header_sorts_and_again_reverses(admin_client):
    body = admin_client.get("/admin/users?q=a").get_data(as_text=True)
    assert 'href="/admin/users?q=a&amp;sort=email"' in body
    assert 'href="/admin/users?q=a&amp;dir=desc"' in body  # name is sorted: reverse it


def test_paging_is_stable_and_bounded(admin_client, factory, firm):
    for number in range(52):
        factory.user(firm["system"], f"p{number:02d}@harbour.example", f"Pat {number:02d}")
    first = admin_client.get("/admin/users?q=pat", headers={"HX-Request": "true"})
    second = admin_client.get("/admin/users?q=pat&page=2", headers={"HX-Request": "true"})
    beyond = admin_client.get("/admin/users?q=pat&page=99", headers={"HX-Request": "true"})
    assert listed_names(first) == [f"Pat {n:02d}" for n in range(50)]
    assert listed_names(second) == ["Pat 50", "Pat 51"]
    assert listed_names(beyond) == listed_names(second)  # past the end: the last page
    assert "Page 1 of 2" in first.get_data(as_text=True)
    assert 'href="/admin/users?q=pat&amp;page=2"' in first.get_data(as_text=True)
    # Without a search, role and active filters page the same way.
    assert len(listed_names(admin_client.get("/admin/users?role=user&page=2"))) == 6


def test_a_broad_search_stops_counting_at_the_cap(admin_client, factory, firm, monkeypatch):
    # The cap is 5,000 (README, "Filter performance"); a smaller one behaves the same.
    monkeypatch.setattr(user_list, "SMALL_RESULT", 50)
    for number in range(52):
        factory.user(firm["system"], f"p{number:02d}@harbour.example", f"Pat {number:02d}")
    searched = admin_client.get("/admin/users?q=pat&page=2", headers={"HX-Request": "true"})
    body = searched.get_data(as_text=True)
    assert "<strong>More than 50</strong> users match." in body
    assert "Page 1 of 1" in body and "Only the first 50 are paged" in body
    assert listed_names(searched) == [f"Pat {n:02d}" for n in range(50)]
    # Without a search the count is exact.
    unsearched = admin_client.get("/admin/users?role=user", headers={"HX-Request": "true"})
    assert "users match." in unsearched.get_data(as_text=True)
    assert "More than" not in unsearched.get_data(as_text=True)


def test_enforcement_deadline_shows_in_the_list(admin_client, session, firm):
    # 20:00 UTC is the next morning in Auckland, the firm's timezone: its date shows.
    deadline = (utcnow() + timedelta(days=3)).replace(hour=20, minute=0)
    set_fields(session, firm["zoe"].id, mfa_deadline=deadline)
    set_fields(session, firm["jose"].id, mfa_deadline=utcnow() - timedelta(minutes=1))
    body = admin_client.get("/admin/users").get_data(as_text=True)
    local = deadline.astimezone(ZoneInfo("Pacific/Auckland"))
    assert local.date() != deadline.date()
    assert f"enrol by {local.day} {local:%b %Y}" in body
    assert "enrol at next sign-in" in body


def test_names_are_escaped_in_the_list(admin_client, factory, firm):
    factory.user(firm["system"], "x@harbour.example", "<script>alert(1)</script>")
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


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


# --- CSV -----------------------------------------------------------------------


def test_csv_is_the_filtered_list_with_formula_cells_neutralised(admin_client, factory, firm):
    factory.user(firm["system"], "eve@harbour.example", '=HYPERLINK("http://x","Zoe")')
    factory.user(firm["system"], "plus@harbour.example", "+zoe sum")
    # Closing the streamed response ends its request (and database transaction).
    with admin_client.get("/admin/users.csv?q=zoe&sort=email") as response:
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Name", "Email", "Role", "Active", "MFA", "MFA deadline", "Last sign-in"]
    assert [row[:2] for row in rows[1:]] == [
        ['\'=HYPERLINK("http://x","Zoe")', "eve@harbour.example"],
        ["'+zoe sum", "plus@harbour.example"],
        ["Zoë Brown", "zoe@harbour.example"],
    ]
    assert rows[3][2:6] == ["user", "yes", "no", ""]


# --- Edit user and MFA reset -----------------------------------------------------


def test_edit_page_shows_the_mfa_section(admin_client, app, session, firm):
    enable_mfa(app, session, firm["zoe"].id)
    body = admin_client.get(f"/admin/users/{firm['zoe'].id}").get_data(as_text=True)
    assert "Multifactor Authentication" in body and "MFA Enabled" in body and BILLING in body
    assert 'id="mfa_enabled" name="mfa_enabled" role="switch" type="checkbox" value="y"' in body
    other = admin_client.get(f"/admin/users/{firm['jose'].id}").get_data(as_text=True)
    assert "An admin cannot turn it on for someone else" in other
    assert (
        "disabled"
        in other.split('id="mfa_enabled"')[0].rsplit("<input", 1)[1]
        + other.split('id="mfa_enabled"')[1].split(">", 1)[0]
    )


def test_reset_without_the_billing_acknowledgement_changes_nothing(
    admin_client, app, session, firm, mailbox
):
    enable_mfa(app, session, firm["zoe"].id)
    zoe = session.get(User, firm["zoe"].id)
    response = admin_client.post_form(
        f"/admin/users/{zoe.id}",
        edit_form(zoe, mfa_enabled=None, display_name="Zoë Renamed"),
    )
    assert response.status_code == 422
    assert "I accept the billing changes" in response.get_data(as_text=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    session.expire_all()
    zoe = session.get(User, zoe.id)
    assert (zoe.mfa_enabled, zoe.display_name) == (True, "Zoë Brown")
    assert session.exec(select(TotpCredential)).all() != []
    assert session.exec(select(AuditEvent)).all() == [] or all(
        event.action.startswith("signin") for event in session.exec(select(AuditEvent))
    )
    assert mailbox() == []


def test_reset_with_the_acknowledgement_removes_mfa_audits_emails_and_signs_out(
    app, client, admin_client, session, firm, mailbox
):
    zoe_client = app.test_client()
    sign_in(zoe_client, "zoe@harbour.example")  # before MFA: the password is enough
    enable_mfa(app, session, firm["zoe"].id)
    assert zoe_client.get("/profile").status_code == 200
    zoe = session.get(User, firm["zoe"].id)
    response = admin_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, mfa_enabled=None, accept_billing="y")
    )
    assert response.status_code == 302
    assert zoe_client.get("/profile").status_code == 302  # her sessions ended

    session.expire_all()
    zoe = session.get(User, firm["zoe"].id)
    assert (zoe.mfa_enabled, zoe.mfa_failed_count) == (False, 0)
    assert session.exec(select(TotpCredential)).all() == []
    assert session.exec(select(RecoveryCode)).all() == []
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset_by_admin")).one()
    assert (event.actor_id, event.subject_id) == (firm["ann"].id, zoe.id)
    assert event.details["billing_acknowledged"] is True
    [message] = mailbox()
    assert message["To"] == "zoe@harbour.example"
    text = message.get_body(("plain",)).get_content()
    assert "Ann Admin" in text and "reset multi-factor authentication" in text
    assert "set up MFA again" in text
    audit_page = admin_client.get("/admin/audit?action=mfa.reset_by_admin").get_data(as_text=True)
    assert "Zoë Brown (zoe@harbour.example)" in audit_page and "Ann Admin" in audit_page


def test_admin_cannot_turn_mfa_on_for_someone(admin_client, session, firm):
    jose = firm["jose"]
    response = admin_client.post_form(f"/admin/users/{jose.id}", edit_form(jose, mfa_enabled="y"))
    assert response.status_code == 422
    assert "cannot turn MFA on" in response.get_data(as_text=True)
    assert session.get(User, jose.id).mfa_enabled is False


def test_edit_name_role_and_active_updates_search_and_ends_sessions(
    app, admin_client, session, firm
):
    jose_client = app.test_client()
    sign_in(jose_client, "jose@harbour.example")
    jose = firm["jose"]
    response = admin_client.post_form(
        f"/admin/users/{jose.id}",
        edit_form(jose, display_name="Josefina Ōrākei", role="admin", active=None),
    )
    assert response.status_code == 302
    assert jose_client.get("/profile").status_code == 302
    session.expire_all()
    jose = session.get(User, jose.id)
    assert (jose.display_name, jose.role, jose.active) == ("Josefina Ōrākei", "admin", False)
    found = admin_client.get("/admin/users?q=orakei", headers={"HX-Request": "true"})
    assert listed_names(found) == ["Josefina Ōrākei"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "user.updated")).one()
    assert event.details["changes"]["role"] == ["user", "admin"]


@pytest.mark.parametrize(
    "overrides",
    [{"role": "user"}, {"active": None}],
    ids=["demote", "deactivate"],
)
def test_last_active_admin_is_protected(admin_client, factory, session, firm, overrides):
    ann = firm["ann"]
    response = admin_client.post_form(f"/admin/users/{ann.id}", edit_form(ann, **overrides))
    assert response.status_code == 422
    assert "last active admin" in response.get_data(as_text=True)
    session.expire_all()
    assert (session.get(User, ann.id).role, session.get(User, ann.id).active) == ("admin", True)
    # With another active admin, it is allowed.
    factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    response = admin_client.post_form(f"/admin/users/{ann.id}", edit_form(ann, **overrides))
    assert response.status_code == 302


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_edit_refuses_a_bad_name(admin_client, session, firm, name):
    jose = firm["jose"]
    response = admin_client.post_form(f"/admin/users/{jose.id}", edit_form(jose, display_name=name))
    assert response.status_code == 422
    assert session.get(User, jose.id).display_name == "José Álvarez"


# --- Security settings -------------------------------------------------------------


def test_enforcement_needs_the_admins_own_mfa_first(admin_client, session, firm):
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": "0"}
    )
    assert response.status_code == 422
    assert "Set up multi-factor authentication for your own account first" in (
        response.get_data(as_text=True)
    )
    session.expire_all()
    assert session.get(System, firm["system"].id).mfa_required is False
    assert session.get(User, firm["jose"].id).mfa_deadline is None


def test_enforcement_sets_deadlines_for_users_without_mfa(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    enable_mfa(app, session, firm["zoe"].id)
    set_fields(session, firm["mere"].id, active=False)
    page = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Require multi-factor authentication for all users" in page
    assert "Turning this on makes 2 active users without MFA set it up" in page

    before = utcnow()
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": "7"}
    )
    assert response.status_code == 302
    session.expire_all()
    system = session.get(System, firm["system"].id)
    assert (system.mfa_required, system.mfa_grace_days) == (True, 7)
    deadlines = {
        key: session.get(User, firm[key].id).mfa_deadline
        for key in ("ann", "jose", "liam", "zoe", "mere")
    }
    assert deadlines["ann"] is None and deadlines["zoe"] is None and deadlines["mere"] is None
    for key in ("jose", "liam"):
        assert before + timedelta(days=7) <= deadlines[key] <= utcnow() + timedelta(days=7)
    assert session.get(User, firm["outsider"].id).mfa_deadline is None
    event = session.exec(
        select(AuditEvent).where(AuditEvent.action == "mfa.required_changed")
    ).one()
    assert event.details == {"required": True, "grace_days": 7, "users_with_deadline": 2}

    admin_client.post_form("/admin/security/enforcement", {"grace_days": "0"})
    session.expire_all()
    assert session.get(System, firm["system"].id).mfa_required is False
    assert session.get(User, firm["jose"].id).mfa_deadline is None


def test_enforcement_with_no_grace_means_the_next_sign_in(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    admin_client.post_form("/admin/security/enforcement", {"required": "y", "grace_days": "0"})
    session.expire_all()
    assert session.get(User, firm["jose"].id).mfa_deadline <= utcnow()
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "enrol at next sign-in" in body

    # José's next sign-in reaches only the setup page until he enrols.
    jose = app.test_client()
    sign_in(jose, "jose@harbour.example")
    for path in ("/profile", "/admin/users", "/mfa/prompt"):
        assert jose.get(path).headers["Location"].startswith("/profile/mfa/setup")
    assert jose.get("/profile/mfa/setup").status_code == 200


def test_reset_under_enforcement_gives_a_deadline(admin_client, app, session, firm):
    enable_mfa(app, session, firm["ann"].id)
    admin_client.post_form("/admin/security/enforcement", {"required": "y", "grace_days": "0"})
    enable_mfa(app, session, firm["zoe"].id)
    zoe = session.get(User, firm["zoe"].id)
    admin_client.post_form(
        f"/admin/users/{zoe.id}", edit_form(zoe, mfa_enabled=None, accept_billing="y")
    )
    session.expire_all()
    assert session.get(User, zoe.id).mfa_deadline is not None


@pytest.mark.parametrize("grace", ["-1", "366", "soon", ""])
def test_enforcement_refuses_a_bad_grace_period(admin_client, session, firm, grace):
    response = admin_client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": grace}
    )
    assert response.status_code == 422
    assert session.get(System, firm["system"].id).mfa_required is False


def test_country_and_accounting_show_when_compliance_applies(admin_client, session, firm):
    assert "Compliance applies" not in admin_client.get("/admin/security").get_data(as_text=True)
    response = admin_client.post_form(
        "/admin/security/system", {"country": "AU", "accounting": "xero"}
    )
    assert response.status_code == 302
    page = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Compliance applies" in page and "Australia" in page
    assert '<option selected value="xero">Xero</option>' in page
    system = session.get(System, firm["system"].id)
    assert (system.country, system.accounting_link) == ("AU", "xero")
    bad = admin_client.post_form("/admin/security/system", {"country": "XX", "accounting": "xero"})
    assert bad.status_code == 422


def test_heads_up_rule_settings(admin_client, factory, session, firm):
    bob = factory.user(firm["system"], "bob@harbour.example", "Bob Admin", admin=True)
    response = admin_client.post_form(
        "/admin/security/heads-up",
        {
            "enabled": "y",
            "kind": "with_mfa",
            "hour": "18",
            "recipients": "chosen",
            "admins": [str(bob.id)],
        },
    )
    assert response.status_code == 302
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == firm["system"].id)).one()
    assert (rule.enabled, rule.kind, rule.hour, rule.recipient_ids) == (
        True,
        "with_mfa",
        18,
        [bob.id],
    )
    assert session.exec(
        select(AuditEvent).where(AuditEvent.action == "heads_up.rule_changed")
    ).one()


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "without_mfa", "hour": "24", "recipients": "all"},
        {"kind": "everyone", "hour": "7", "recipients": "all"},
        {"kind": "without_mfa", "hour": "7", "recipients": "chosen"},
        {"kind": "without_mfa", "hour": "7", "recipients": "chosen", "admins": ["999"]},
    ],
    ids=["hour", "kind", "no-recipient", "foreign-recipient"],
)
def test_heads_up_rule_refuses_bad_input(admin_client, session, firm, data):
    response = admin_client.post_form("/admin/security/heads-up", data)
    assert response.status_code == 422
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == firm["system"].id)).one()
    assert (rule.kind, rule.hour, rule.recipient_ids) == ("without_mfa", 7, None)


# --- Audit log -----------------------------------------------------------------


def test_audit_log_newest_first_filtered_and_paged(admin_client, session, firm):
    start = utcnow() - timedelta(hours=1)
    for number in range(55):
        session.add(
            AuditEvent(
                system_id=firm["system"].id,
                action="signin.mfa_failed",
                subject_id=firm["zoe"].id,
                details={"n": number},
                created_at=start + timedelta(seconds=number),
            )
        )
    session.add(
        AuditEvent(
            system_id=firm["outsider"].system_id,
            action="signin.mfa_failed",
            subject_id=firm["outsider"].id,
            details={"n": "outsider"},
            created_at=start,
        )
    )
    session.commit()
    first = admin_client.get("/admin/audit?action=signin.mfa_failed").get_data(as_text=True)
    assert first.index("n: 54") < first.index("n: 53")
    assert "n: 4<" not in first and "outsider" not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert "n: 4<" in second and "n: 0<" in second and "n: 54" not in second
    by_user = admin_client.get("/admin/audit?user=jose@harbour.example").get_data(as_text=True)
    assert "No events match" in by_user
    unknown = admin_client.get("/admin/audit?user=nobody@example.com").get_data(as_text=True)
    assert "No events match" in unknown


def test_every_sort_and_filter_value_has_its_label():
    assert SORT_LABELS.keys() == user_list.SORTS.keys()
    assert {name: tuple(choices) for name, choices in FILTER_CHOICES.items()} == (
        user_list.FILTER_VALUES
    )
