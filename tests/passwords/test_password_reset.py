"""Forgot password: the same answer for any email, a link that works once for
30 minutes (a newer one or any password change ends it), at most 3 emails an
hour per account; after the reset every session and pending sign-in is gone,
the lock is cleared, the owner is told, and MFA is still asked at sign-in."""

from __future__ import annotations

import threading

from sqlalchemy.exc import OperationalError
from sqlmodel import select

from tests.conftest import CSRF_PATTERN, PASSWORD, CsrfClient, sign_in
from tests.mfa_support import enable_mfa, password_step, signed_in, submit_code
from tests.passwords.conftest import (
    NEW_PASSWORD,
    actions,
    ask_for_link,
    emails,
    reset_path,
    set_new_password,
)
from webapp.audit import Action
from webapp.extensions import db
from webapp.models import PendingSignIn, User
from webapp.passwords import rules, services, tokens
from webapp.passwords.routes import LINK_SPENT, RESET_DONE, SENT

SIGNED_OUT = "Please sign in to continue."


def answer_text(response) -> str:
    """The page without its CSRF tokens (which differ per session)."""
    return CSRF_PATTERN.sub("", response.get_data(as_text=True))


def test_the_answer_is_the_same_for_known_and_unknown_emails(app, client, factory, session, clock):
    factory.user(email="ann@example.com")
    known = ask_for_link(client, "ann@example.com")
    unknown = ask_for_link(app.test_client(), "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert SENT.split(".")[0] in known.get_data(as_text=True)
    assert answer_text(known) == answer_text(unknown)
    assert len(emails(session, "password_reset")) == 1
    assert emails(session, "password_reset")[0].recipient == "ann@example.com"


def test_the_sign_in_page_links_to_forgot_password(client):
    page = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/password/forgot">Forgot your password?</a>' in page
    forgot = client.get("/password/forgot").get_data(as_text=True)
    assert "Send reset link" in forgot and ">Email<" in forgot


def test_a_reset_keeps_mfa_and_ends_every_session_and_pending_sign_in(
    app, client, factory, session, clock, mailbox
):
    user = factory.user(email="ann@example.com")
    enable_mfa(app, session, user)
    elsewhere = CsrfClient(app)  # another browser, signed in before the reset
    password_step(elsewhere, "ann@example.com")
    submit_code(elsewhere, clock.code())
    assert signed_in(elsewhere)
    pending = CsrfClient(app)  # a third at the code step
    clock.advance(seconds=30)
    password_step(pending, "ann@example.com")

    ask_for_link(client, "ann@example.com")
    done = set_new_password(client, reset_path(emails(session, "password_reset")[0]))
    assert done.status_code == 302 and done.headers["Location"] == "/sign-in"
    assert RESET_DONE in client.get("/sign-in").get_data(as_text=True)
    # Nobody was signed in by the link, and everyone else is out.
    assert not signed_in(client)
    assert not signed_in(elsewhere)
    session.expire_all()
    assert session.exec(select(PendingSignIn).where(PendingSignIn.user_id == user.id)).all() == []
    assert pending.get("/sign-in/verify").headers["Location"] == "/sign-in"  # its step is gone
    # The old password no longer works; the new one leads to the code step as before.
    assert sign_in(client, "ann@example.com", PASSWORD).status_code == 422
    password_step(client, "ann@example.com", password=NEW_PASSWORD)
    assert not signed_in(client)
    clock.advance(seconds=60)
    submit_code(client, clock.code())
    assert signed_in(client)
    # Told and audited.
    changed = emails(session, "password_changed", "ann@example.com")
    assert len(changed) == 1 and "with a link emailed to you" in changed[0].body_text
    assert len(actions(session, "password.reset")) == 1
    assert len(actions(session, "password.reset_requested")) == 1


def test_the_link_works_once(client, factory, session, clock):
    factory.user(email="ann@example.com")
    ask_for_link(client, "ann@example.com")
    path = reset_path(emails(session, "password_reset")[0])
    assert set_new_password(client, path).headers["Location"] == "/sign-in"
    again = set_new_password(
        CsrfClient(client.application), path, password="another fine passphrase"
    )
    assert again.headers["Location"] == "/password/forgot"
    assert sign_in(client, "ann@example.com", NEW_PASSWORD).status_code == 302


def test_the_link_expires_after_30_minutes(client, factory, session, clock):
    factory.user(email="ann@example.com")
    ask_for_link(client, "ann@example.com")
    path = reset_path(emails(session, "password_reset")[0])
    clock.advance(minutes=29, seconds=59)
    assert client.get(path).headers["Location"] == "/password/set"
    clock.advance(seconds=1)
    # Held by the browser already, it is refused too.
    refused = client.post_form(
        "/password/set",
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
        token_from="/password/forgot",
    )
    assert refused.headers["Location"] == "/password/forgot"
    assert LINK_SPENT in client.get("/password/forgot").get_data(as_text=True)
    assert sign_in(client, "ann@example.com", PASSWORD).status_code == 302


def test_a_newer_link_ends_the_older_one(app, client, factory, session, clock):
    factory.user(email="ann@example.com")
    ask_for_link(client, "ann@example.com")
    clock.advance(minutes=1)
    ask_for_link(client, "ann@example.com")
    older, newer = (reset_path(email) for email in emails(session, "password_reset"))
    assert set_new_password(CsrfClient(app), older).headers["Location"] == "/password/forgot"
    assert set_new_password(CsrfClient(app), newer).headers["Location"] == "/sign-in"


def test_a_password_change_ends_the_link(app, client, factory, session, clock):
    user = factory.user(email="ann@example.com")
    ask_for_link(client, "ann@example.com")
    path = reset_path(emails(session, "password_reset")[0])
    with app.test_request_context():
        row = db.session.get(User, user.id)
        services.set_password(
            db.session,
            row,
            "changed on my profile",
            clock.now,
            action=Action.PASSWORD_CHANGED,
            actor=row,
        )
        db.session.commit()
    assert set_new_password(CsrfClient(app), path).headers["Location"] == "/password/forgot"


def test_the_new_password_meets_the_rules(client, factory, session, clock):
    factory.user(email="ann.lee@example.com", system=factory.system(name="Harbour Quay"))
    ask_for_link(client, "ann.lee@example.com")
    client.get(reset_path(emails(session, "password_reset")[0]))

    def attempt(password, confirm=None):
        return client.post_form(
            "/password/set",
            {"new_password": password, "confirm_password": confirm or password},
        )

    for password, message in [
        ("short one", rules.TOO_SHORT),
        ("Password1234!", rules.COMMON),
        ("ann.lee was here today", rules.HAS_EMAIL),
        ("harbour quay rules ok!", rules.HAS_FIRM),
        ("y" * 257, rules.TOO_LONG),
    ]:
        response = attempt(password)
        assert response.status_code == 422
        assert message.replace("'", "&#39;") in response.get_data(as_text=True)
    mismatch = attempt(NEW_PASSWORD, "something else entirely")
    assert rules.MISMATCH in mismatch.get_data(as_text=True)
    # The link was not used up by refusals.
    assert attempt("🙂 a tui sang at dawn 🌅 " * 5).headers["Location"] == "/sign-in"


def test_at_most_three_emails_an_hour_per_account(client, factory, session, clock):
    factory.user(email="ann@example.com")
    for number in range(5):
        response = ask_for_link(
            client, "ann@example.com", environ_base={"REMOTE_ADDR": f"192.0.2.{number}"}
        )
        assert response.status_code == 200
    assert len(emails(session, "password_reset")) == 3
    clock.advance(hours=1, seconds=1)
    ask_for_link(client, "ann@example.com")
    assert len(emails(session, "password_reset")) == 4


def test_a_reset_clears_the_password_lock(client, factory, session, clock):
    factory.user(email="ann@example.com")
    for number in range(10):
        sign_in(
            client,
            "ann@example.com",
            "wrong password",
            environ_base={"REMOTE_ADDR": f"198.51.100.{number}"},
        )
    assert sign_in(client, "ann@example.com", PASSWORD).status_code == 429
    ask_for_link(client, "ann@example.com")
    set_new_password(client, reset_path(emails(session, "password_reset")[0]))
    assert sign_in(client, "ann@example.com", NEW_PASSWORD).status_code == 302


def test_two_uses_of_one_link_at_once_set_one_password(app, factory, session, clock):
    user = factory.user(email="ann@example.com")
    with app.test_request_context():
        row = db.session.get(User, user.id)
        token = tokens.issue(
            db.session, row, tokens.Purpose.RESET, tokens.RESET_LINK_TTL, clock.now
        )
        db.session.commit()
    barrier = threading.Barrier(2)
    results = []

    def use(password: str) -> None:
        with app.test_request_context():
            own = db.session  # this thread's own (the storage of counts writes in it too)
            barrier.wait()
            try:
                done = services.set_with_token(
                    own, token, tokens.Purpose.RESET, password, clock.now
                )
                own.commit()
                results.append(done is not None)
            except OperationalError:  # SQLite refuses the later writer outright
                own.rollback()
                results.append(False)

    threads = [
        threading.Thread(target=use, args=(p,))
        for p in ("first fine passphrase", "second fine passphrase")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert len(actions(session, "password.reset")) == 1
