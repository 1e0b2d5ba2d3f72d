"""Fewer dead ends in the admin pages: what they say and keep when something goes
wrong or needs a step first (saved views, the view picker, Security settings,
Edit user, the audit log in words)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.admin.conftest import BILLING, edit_form, enable_mfa
from webapp.models import AuditEvent, User

HX = {"HX-Request": "true"}


def selected_option(page: str, select_id: str) -> str:
    """The text of the selected option of the <select> with `select_id`."""
    select = page.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    return re.search(r"<option [^>]*selected[^>]*>([^<]*)</option>", select)[1]


# --- Saved views and the "List view" picker -----------------------------------


def test_a_refused_save_view_keeps_the_filters_and_sort(admin_client):
    response = admin_client.post_form(
        "/admin/views",
        {"name": "", "query": "mfa=off&role=user&sort=email&dir=desc"},
        token_from="/admin/users",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Name the view." in page
    assert selected_option(page, "filter-mfa") == "MFA not enabled"
    assert selected_option(page, "filter-role") == "Users"
    assert 'name="sort" value="email"' in page and 'name="dir" value="desc"' in page
    assert 'aria-sort="descending"' in page
    # The form keeps what is to be saved, for the next try.
    assert 'name="query" value="mfa=off&amp;role=user&amp;sort=email&amp;dir=desc"' in page


@pytest.mark.parametrize(
    "query, shown",
    [
        ("", "All users"),
        ("mfa=off&active=yes", "Users without MFA"),
        ("active=yes&mfa=off&page=2", "Users without MFA"),
        ("mfa=off", "Custom"),
        ("mfa=off&role=user", "Staff lacking MFA (shared)"),
    ],
)
def test_the_picker_shows_the_applied_view_or_custom(admin_client, query, shown):
    admin_client.post_form(
        "/admin/views",
        {"name": "Staff lacking MFA", "query": "mfa=off&role=user", "shared": "y"},
        token_from="/admin/users",
    )
    page = admin_client.get(f"/admin/users?{query}").get_data(as_text=True)
    assert selected_option(page, "view-picker-select") == shown
    assert page.count(" selected>Custom<") == (shown == "Custom")


def test_a_live_filter_updates_the_picker_too(admin_client):
    fragment = admin_client.get("/admin/users?mfa=off&active=yes", headers=HX)
    body = fragment.get_data(as_text=True)
    assert '<form id="view-picker" class="view-picker"' in body and 'hx-swap-oob="true"' in body
    assert selected_option(body, "view-picker-select") == "Users without MFA"


# --- Security settings: the admin's own MFA first ------------------------------


def test_require_mfa_explains_before_submit_when_the_admin_has_none(
    admin_client, app, session, firm
):
    page = admin_client.get("/admin/security").get_data(as_text=True)
    notice = page.split('id="own-mfa-first"', 1)[1].split("</div>", 1)[0]
    assert "First set up multi-factor authentication for your own account." in notice
    assert '<a href="/profile">My Profile</a>' in notice
    assert 'aria-describedby="own-mfa-first required-help"' in page

    enable_mfa(app, session, firm["ann"].id)
    assert "own-mfa-first" not in admin_client.get("/admin/security").get_data(as_text=True)


# --- Edit user ----------------------------------------------------------------


def test_the_billing_acknowledgement_appears_only_while_mfa_is_on(admin_client, app, session, firm):
    without = admin_client.get(f"/admin/users/{firm['jose'].id}").get_data(as_text=True)
    assert BILLING not in without
    enable_mfa(app, session, firm["jose"].id)
    assert BILLING in admin_client.get(f"/admin/users/{firm['jose'].id}").get_data(as_text=True)


def test_edit_user_errors_render_valid_aria(admin_client, app, session, firm):
    enable_mfa(app, session, firm["jose"].id)
    jose = session.get(User, firm["jose"].id)
    response = admin_client.post_form(
        f"/admin/users/{jose.id}", edit_form(jose, mfa_enabled=None, display_name="")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '="None"' not in page
    assert 'aria-invalid="true"' in page and 'aria-describedby="display_name-error"' in page


def test_reset_says_what_happened(admin_client, app, session, firm):
    enable_mfa(app, session, firm["jose"].id)
    jose = session.get(User, firm["jose"].id)
    confirmation = (
        "José Álvarez&#39;s MFA was reset: they were signed out everywhere "
        "and emailed to set it up again."
    )
    # In the dialog over the list: the dialog closes, the row and message change.
    response = admin_client.post_form(
        f"/admin/users/{jose.id}",
        edit_form(jose, mfa_enabled=None, accept_billing="y"),
        token_from="/admin/users",
        headers={**HX, "HX-Target": "edit-user-body"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["HX-Reswap"] == "none"
    assert confirmation in body
    assert f'<tr id="user-{jose.id}" hx-swap-oob="true"' in body
    assert 'aria-label="MFA not enabled"' in body

    # As a page: the same words after the redirect; a plain save says so.
    session.refresh(jose)
    saved = admin_client.post_form(f"/admin/users/{jose.id}", edit_form(jose, role="admin"))
    assert "Saved José Álvarez." in admin_client.get(saved.headers["Location"]).get_data(
        as_text=True
    )


# --- The audit log in words ---------------------------------------------------


def test_the_audit_log_reads_as_words(admin_client, session, firm):
    events = [
        ("signin.mfa_failed", {"where": "sign_in", "failures_in_a_row": 1}),
        ("signin.mfa_failed", {"where": "enrolment", "failures_in_a_row": 2}),
        (
            "mfa.reset_by_admin",
            {"billing_acknowledged": True, "admin_email": "ann@harbour.example"},
        ),
        ("user.updated", {"changes": {"role": ["user", "admin"], "active": [True, False]}}),
        ("signin.locked", {"lock_number": 2, "locked_until": "2026-12-01T19:41:00+00:00"}),
        ("mfa.required_changed", {"required": True, "grace_days": 7, "users_with_deadline": 3}),
        ("heads_up.rule_changed", {"changes": {"hour": [7, 9], "recipient_ids": [None, [1, 2]]}}),
        ("some.future_action", {"flag": True}),
    ]
    for number, (action, details) in enumerate(events):
        session.add(
            AuditEvent(
                system_id=firm["system"].id,
                action=action,
                actor_id=firm["ann"].id,
                subject_id=firm["zoe"].id,
                details=details,
                created_at=datetime(2026, 12, 1, 19, 0, number, tzinfo=UTC),
            )
        )
    session.commit()
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    table = page.split("<tbody>", 1)[1]
    for words in [
        "Sign-in code wrong",
        "Setup code wrong",
        "1 wrong code in a row",
        "MFA reset by an admin",
        "billing changes accepted; by ann@harbour.example",
        "User changed",
        "Role: User → Admin; Active: yes → no",
        "Codes locked after wrong attempts",
        "lock 2 in a row; locked until 08:41 NZDT on 2 Dec 2026",
        "required for all users; grace period 7 days; 3 users given a deadline",
        "Hour: 07:00 → 09:00; Recipients: all active admins → 2 chosen admins",
        "Some: future action",
        "Flag: yes",
    ]:
        assert words in table, words
    for machine in ("signin.mfa_failed", "billing_acknowledged", "True", "enrolment"):
        assert machine not in table, machine
    # The filter offers labels too (its values stay the machine names).
    assert '<option value="signin.mfa_failed">Wrong code</option>' in page
