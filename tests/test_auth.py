"""Password sign-in, sign-out and server-side session rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlmodel import select

from tests.conftest import CSRF_PATTERN, PASSWORD, sign_in
from webapp.models import AuditEvent, User, utcnow


def deactivate(session, user) -> None:
    row = session.get(User, user.id)
    row.active = False
    session.add(row)
    session.commit()


def test_sign_in_page_has_the_fields(client):
    body = client.get("/sign-in").get_data(as_text=True)
    assert '<label for="email">Email</label>' in body
    assert '<label for="password">Password</label>' in body
    assert ">Sign in</button>" in body


def test_sign_in_succeeds_and_records_it(client, factory, session):
    user = factory.user(email="Ann@Example.com", name="Ann Lee")
    response = sign_in(client, "ann@EXAMPLE.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    page = client.get("/profile").get_data(as_text=True)
    assert "Ann Lee" in page
    assert session.get(User, user.id).last_sign_in_at is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(client, factory):
    factory.user(email="ann@example.com")
    wrong = sign_in(client, "ann@example.com", "not the password at all")
    unknown = sign_in(client, "nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 422

    def strip(response) -> str:
        # CSRF tokens carry a timestamp, so two pages a second apart differ there.
        return CSRF_PATTERN.sub("", response.get_data(as_text=True))

    assert "The email or password is incorrect." in strip(wrong)
    assert strip(wrong).replace("ann@example.com", "X") == strip(unknown).replace(
        "nobody@example.com", "X"
    )
    assert client.get("/profile").status_code == 302


def test_inactive_user_cannot_sign_in(client, factory, session):
    deactivate(session, factory.user(email="gone@example.com"))
    response = sign_in(client, "gone@example.com")
    assert response.status_code == 422
    assert "The email or password is incorrect." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/admin/users?mfa=off", "/admin/users?mfa=off"),
        ("https://evil.example/phish", "/profile"),
        ("//evil.example/phish", "/profile"),
        ("/\\evil.example", "/profile"),
        ("javascript:alert(1)", "/profile"),
        ("", "/profile"),
    ],
)
def test_next_only_redirects_within_the_site(client, factory, target, expected):
    factory.user(email="ann@example.com")
    response = client.post_form(
        "/sign-in", {"email": "ann@example.com", "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == expected


def test_sign_in_without_csrf_token_is_refused(client, factory):
    factory.user(email="ann@example.com")
    response = client.post("/sign-in", data={"email": "ann@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/profile").status_code == 302


def test_session_is_renewed_at_sign_in(client, factory):
    factory.user(email="ann@example.com")
    before = client.csrf_token()
    sign_in(client, "ann@example.com")
    assert client.csrf_token("/profile") != before


def test_sign_out_ends_the_session(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    response = client.post_form("/sign-out", token_from="/profile")
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/profile").status_code == 302


def test_cookie_copied_before_sign_out_is_refused_after_it(app, client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    copied = client.get_cookie(cookie_name).value
    client.post_form("/sign-out", token_from="/profile")

    thief = app.test_client()
    thief.set_cookie(cookie_name, copied)
    response = thief.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_idle_session_expires_after_30_minutes(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    assert client.get("/profile").status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=31)):
        assert client.get("/profile").status_code == 302


def test_active_session_still_ends_after_12_hours(client, factory):
    factory.user(email="ann@example.com")
    with time_machine.travel(utcnow(), tick=False) as traveller:
        sign_in(client, "ann@example.com")
        # Busy all day: a request every 20 minutes keeps the idle timeout away.
        for _ in range(35):
            traveller.shift(timedelta(minutes=20))
            assert client.get("/profile").status_code == 200
        traveller.shift(timedelta(minutes=21))  # 12 hours and a minute after signing in
        assert client.get("/profile").status_code == 302


def test_deactivating_a_user_ends_their_session(client, factory, session):
    user = factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    deactivate(session, user)
    assert client.get("/profile").status_code == 302


def test_failed_sign_in_of_a_known_user_is_audited(client, factory, session):
    user = factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com", "wrong password here")
    events = session.exec(select(AuditEvent).where(AuditEvent.subject_id == user.id)).all()
    assert [e.action for e in events] == ["signin.failed"]


def test_toolbar_links_name_to_my_profile_and_shows_admin_to_admins(client, factory):
    system = factory.system()
    factory.user(system, email="boss@example.com", name="Boss Person", admin=True)
    factory.user(system, email="staff@example.com", name="Staff Person")
    sign_in(client, "staff@example.com")
    page = client.get("/profile").get_data(as_text=True)
    assert '<a href="/profile" class="profile-link">Staff Person</a>' in page
    assert ">Admin</a>" not in page
    client.post_form("/sign-out", token_from="/profile")
    sign_in(client, "boss@example.com")
    assert ">Admin</a>" in client.get("/profile").get_data(as_text=True)
