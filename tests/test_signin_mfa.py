"""Signing in with a code: the pending step, replay guard, recovery codes, throttle."""

from __future__ import annotations

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from tests import mfa_support
from tests.conftest import PASSWORD, sign_in
from tests.mfa_support import (
    SECRET,
    Clock,
    enable_mfa,
    password_step,
    signed_in,
    submit_code,
)
from webapp.auth import pending
from webapp.mfa import services, throttle
from webapp.models import AuditEvent, PendingSignIn, RecoveryCode, User
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def ann(app, factory, session):
    user = factory.user(email="ann@example.com", name="Ann Lee")
    enable_mfa(app, session, user)
    return user


def actions(session, user) -> list[str]:
    session.expire_all()
    rows = session.exec(
        select(AuditEvent).where(AuditEvent.subject_id == user.id).order_by(AuditEvent.id)
    ).all()
    return [row.action for row in rows]


def test_password_alone_is_only_pending(client, ann, clock):
    password_step(client, "ann@example.com")
    assert not signed_in(client)
    partial = client.get("/profile", headers={"HX-Request": "true"})
    assert partial.status_code != 200
    assert client.get("/profile/mfa/deactivate").status_code == 302
    assert client.get("/admin/users").status_code in (302, 401, 403)
    page = client.get("/sign-in/verify").get_data(as_text=True)
    assert '<label for="code">Verification code</label>' in page
    assert 'name="csrf_token" type="hidden"' in page
    assert ">Verify</button>" in page
    assert '<a href="/sign-in/recovery">Use a recovery code</a>' in page


def test_right_code_signs_in_on_a_new_session(client, ann, clock, session):
    password_step(client, "ann@example.com")
    token_before = client.csrf_token("/sign-in/verify")
    response = submit_code(client, clock.code())
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert signed_in(client)
    assert client.csrf_token("/profile") != token_before
    assert actions(session, ann)[-1] == "signin.succeeded"


def test_next_survives_the_code_step_and_stays_on_site(client, ann, clock):
    client.post_form(
        "/sign-in",
        {"email": "ann@example.com", "password": PASSWORD, "next": "/admin/users?mfa=off"},
    )
    assert submit_code(client, clock.code()).headers["Location"] == "/admin/users?mfa=off"
    client.post_form("/sign-out", token_from="/profile")
    client.post_form(
        "/sign-in",
        {"email": "ann@example.com", "password": PASSWORD, "next": "//evil.example/"},
    )
    clock.advance(seconds=30)
    assert submit_code(client, clock.code()).headers["Location"] == "/profile"


@pytest.mark.parametrize(
    "code, message",
    [
        ("", "Enter the 6-digit code from your authenticator app."),
        ("12a456", "The code is made of digits only."),
        ("١٢٣٤٥٦", "The code is made of digits only."),
        ("12345", "The code has 6 digits."),
        ("1234567", "The code has 6 digits."),
    ],
)
def test_badly_formed_codes_get_a_clear_message(client, ann, clock, session, code, message):
    password_step(client, "ann@example.com")
    response = submit_code(client, code)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not signed_in(client)
    assert session.get(User, ann.id).mfa_failed_count == 0  # not a guess


@pytest.mark.parametrize(
    "steps, accepted", [(-2, False), (-1, True), (0, True), (1, True), (2, False)]
)
def test_codes_within_one_step_are_accepted(client, ann, clock, steps, accepted):
    password_step(client, "ann@example.com")
    response = submit_code(client, clock.code(steps=steps))
    assert (response.status_code == 302) is accepted
    assert signed_in(client) is accepted


def test_a_code_works_once(app, client, ann, clock, session):
    code = clock.code()
    password_step(client, "ann@example.com")
    assert submit_code(client, code).status_code == 302
    client.post_form("/sign-out", token_from="/profile")

    password_step(client, "ann@example.com")
    response = submit_code(client, code)
    assert response.status_code == 422
    assert "That code was already used" in response.get_data(as_text=True)
    assert not signed_in(client)
    assert "signin.mfa_replay" in actions(session, ann)
    # An older code than the last accepted one is refused too.
    assert submit_code(client, clock.code(steps=-1)).status_code == 422
    assert submit_code(client, clock.code(steps=1)).status_code == 302


def test_one_code_in_two_simultaneous_requests_succeeds_once(app, ann):
    now = Clock().now
    code = Clock().code()
    barrier = threading.Barrier(2)
    results = []

    def attempt() -> None:
        with app.app_context(), Session(app.extensions["firmguard_db"]) as own:
            user = own.get(User, ann.id)
            barrier.wait()
            result = services.check_totp(own, user, code, now, where="sign_in")
            own.commit()
            results.append(result.outcome)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [services.Outcome.ACCEPTED, services.Outcome.REPLAY]


def test_pending_step_expires_after_5_minutes(client, ann, clock):
    password_step(client, "ann@example.com")
    token = client.csrf_token("/sign-in/verify")
    clock.advance(minutes=5, seconds=1)
    response = client.post("/sign-in/verify", data={"code": clock.code(), "csrf_token": token})
    assert response.headers["Location"] == "/sign-in"
    assert not signed_in(client)


def test_cookie_copied_during_the_code_step_cannot_be_reused(app, client, ann, clock):
    password_step(client, "ann@example.com")
    copied = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert submit_code(client, clock.code()).status_code == 302

    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], copied)
    clock.advance(seconds=30)
    response = submit_code(thief, clock.code(), token_from="/sign-in")
    assert response.status_code in (302, 400)
    assert response.headers.get("Location") != "/profile"
    assert not signed_in(thief)


def test_finished_code_steps_are_deleted_by_the_retention_run(
    app, client, factory, session, ann, clock
):
    bob = factory.user(email="bob@example.com")
    enable_mfa(app, session, bob, secret="KRUGS4ZANFZSAYJAONSWG4TFOQQGW2LZ")
    password_step(client, "ann@example.com")
    copied = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert submit_code(client, clock.code()).status_code == 302  # used
    password_step(app.test_client(), "ann@example.com")  # left to expire
    clock.advance(minutes=6)
    password_step(app.test_client(), "bob@example.com")  # live

    assert run_retention.delay().get()["pending sign-ins"] == 2

    def steps(user) -> int:
        session.expire_all()
        return len(
            session.exec(select(PendingSignIn).where(PendingSignIn.user_id == user.id)).all()
        )

    assert (steps(ann), steps(bob)) == (0, 1)
    # The used step's cookie, its row gone, still cannot reach the code step.
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], copied)
    assert thief.get("/sign-in/verify").headers.get("Location") == "/sign-in"


def test_pending_step_cannot_be_completed_for_another_user(app, client, factory, session, clock):
    system = factory.system()
    ann = factory.user(system, email="ann@example.com")
    bob = factory.user(factory.system(), email="bob@example.com")
    other_secret = "KRUGS4ZANFZSAYJAONSWG4TFOQQGW2LZ"
    enable_mfa(app, session, ann)
    enable_mfa(app, session, bob, secret=other_secret)

    password_step(client, "ann@example.com")
    response = client.post_form(
        "/sign-in/verify",
        {"code": clock.code(other_secret), "user_id": str(bob.id), "email": "bob@example.com"},
    )
    assert response.status_code == 422
    assert not signed_in(client)
    assert submit_code(client, clock.code()).status_code == 302
    assert "ann@example.com" in client.get("/profile").get_data(as_text=True)


def test_recovery_code_signs_in_once_and_says_how_many_remain(app, client, ann, clock, session):
    with app.app_context():
        codes = services.replace_recovery_codes(session, session.get(User, ann.id), clock.now)
    session.commit()
    password_step(client, "ann@example.com")
    page = client.get("/sign-in/recovery").get_data(as_text=True)
    assert '<label for="code">Recovery code</label>' in page
    response = submit_code(client, codes[3].upper(), path="/sign-in/recovery")
    assert response.headers["Location"] == "/profile"
    assert "You have 9 recovery codes left." in client.get("/profile").get_data(as_text=True)
    assert "mfa.recovery_code_used" in actions(session, ann)
    client.post_form("/sign-out", token_from="/profile")

    password_step(client, "ann@example.com")
    again = submit_code(client, codes[3], path="/sign-in/recovery")
    assert again.status_code == 422
    assert "not right or was already used" in again.get_data(as_text=True)
    used = session.exec(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1


def test_five_wrong_codes_lock_the_code_step_across_sessions(
    app, client, ann, clock, mailbox, session
):
    wrong = "000000" if clock.code() != "000000" else "111111"
    password_step(client, "ann@example.com")
    for _ in range(4):
        assert submit_code(client, wrong).status_code == 422
    locked = submit_code(client, wrong)
    assert locked.status_code == 429
    # How long in words and the lock's end on the firm's clock (Auckland), in the
    # page and in the email.
    until = (clock.now + timedelta(minutes=1)).astimezone(ZoneInfo("Pacific/Auckland"))
    assert f"Try again in 1 minute, at {until:%H:%M} {until.tzname()}." in locked.get_data(
        as_text=True
    )
    assert actions(session, ann).count("signin.locked") == 1
    assert [m["Subject"] for m in mailbox()] == [
        "Your sign-in codes were locked after wrong attempts"
    ]
    body = mailbox()[0].get_body(("plain",)).get_content()
    assert SECRET not in body and clock.code() not in body
    assert f"not accepted until {until:%H:%M} {until.tzname()}" in body

    # A new browser session (password again) is still locked, even for the right code.
    fresh = app.test_client()
    password_step(fresh, "ann@example.com")
    assert submit_code(fresh, clock.code()).status_code == 429
    assert not signed_in(fresh)

    clock.advance(minutes=1, seconds=1)
    assert submit_code(fresh, clock.code()).status_code == 302
    assert len(mailbox()) == 1


def test_locks_grow_and_a_right_code_resets_them(app, client, ann, clock, session):
    wrong = "000000" if clock.code() != "000000" else "111111"
    password_step(client, "ann@example.com")
    waits = []
    for _ in range(3):
        for _ in range(throttle.MAX_FAILURES):
            submit_code(client, wrong)
        row = session.get(User, ann.id)
        session.refresh(row)
        waits.append(row.mfa_locked_until - clock.now)
        clock.now = row.mfa_locked_until + timedelta(seconds=1)
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    password_step(client, "ann@example.com")
    assert submit_code(client, clock.code()).status_code == 302
    session.refresh(row)
    assert (row.mfa_failed_count, row.mfa_lock_count) == (0, 0)


def guesses_in_a_day(app, session, user, start) -> int:
    """Drive the throttle for 24 hours, guessing whenever it lets us."""
    now, end, guesses = start, start + timedelta(days=1), 0
    with app.app_context():
        while now < end:
            if throttle.take_attempt(session, user, now):
                guesses += 1
                throttle.record_failure(session, user, now, where="sign_in")
                session.commit()  # each guess is a request of its own
            else:
                now = user.mfa_locked_until
    return guesses


def expected_guesses_per_day() -> int:
    """The same figure from the schedule alone: 5 guesses per window."""
    elapsed, windows, lock = timedelta(0), 0, 0
    while elapsed < timedelta(days=1):
        windows += 1
        lock += 1
        elapsed += throttle.lock_duration(lock)
    return windows * throttle.MAX_FAILURES


def test_worst_case_guesses_per_day(app, ann, session):
    start = Clock().now
    user = session.get(User, ann.id)
    measured = guesses_in_a_day(app, session, user, start)
    assert measured == expected_guesses_per_day() == 65
    # With 3 codes valid at any moment, the chance a day of guessing gets in:
    assert measured * 3 / 10**6 < 0.0002


def test_unknown_or_cleared_pending_token_goes_back_to_sign_in(client, ann, clock):
    assert client.get("/sign-in/verify").headers["Location"] == "/sign-in"
    with client.session_transaction() as browser:
        browser[pending.TOKEN_KEY] = "forged-token"
    assert client.get("/sign-in/verify").headers["Location"] == "/sign-in"


def test_user_without_mfa_signs_in_with_the_password(client, factory, clock):
    factory.user(email="bo@example.com")
    assert sign_in(client, "bo@example.com").headers["Location"] == "/profile"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(code=st.text(max_size=60))
def test_code_step_never_fails_on_hostile_text(client, ann, code):
    password_step(client, "ann@example.com")
    for path in ("/sign-in/verify", "/sign-in/recovery"):
        response = submit_code(client, code, path=path)
        assert response.status_code in (302, 400, 422, 429)
        assert response.headers.get("Location") != "/profile"
