"""The per-account lock of the password step: 10 wrong passwords in a row, from
any addresses, lock it for a growing wait; right or wrong, the answer is the
same meanwhile; the owner is emailed once per lock with a link that lets them
(only) through once; an admin can clear it; it ends by itself."""

from __future__ import annotations

import re

from sqlmodel import select

from tests.conftest import PASSWORD, sign_in
from webapp.models import AuditEvent, OutboundEmail

LOCKED = "Too many wrong passwords for this account."
WRONG = "The email or password is incorrect."


def at(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def guess(client, email: str, number: int, password: str = "wrong password"):  # noqa: S107
    """A guess from one of ten addresses, in turn."""
    return sign_in(client, email, password, **at(f"198.51.100.{number % 10 + 1}"))


def lock_emails(session, email: str) -> list[OutboundEmail]:
    session.expire_all()
    return list(
        session.exec(
            select(OutboundEmail).where(
                OutboundEmail.kind == "password_locked", OutboundEmail.recipient == email
            )
        )
    )


def actions(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def unlock_path(email: OutboundEmail) -> str:
    return re.search(r"(/sign-in/unlock/[A-Za-z0-9_-]+)", email.body_text).group(1)


def test_ten_wrong_passwords_from_many_addresses_lock_the_account(
    app, client, factory, session, clock
):
    factory.user(email="ann@example.com")
    answers = [guess(client, "ann@example.com", n) for n in range(10)]
    assert [answer.status_code for answer in answers] == [422] * 10
    # The right password is refused during the lock, with the wrong one's answer.
    right = sign_in(client, "ann@example.com", **at("192.0.2.7"))
    wrong = guess(client, "ann@example.com", 11)
    for answer in (right, wrong):
        assert answer.status_code == 429
        assert LOCKED in answer.get_data(as_text=True)
    assert "Try again in 1 minute" in right.get_data(as_text=True)
    # Emailed once, audited once.
    [email] = lock_emails(session, "ann@example.com")
    assert email.subject == "Someone tried to sign in to your account"
    [event] = actions(session, "signin.password_locked")
    assert event.details["lock_number"] == 1

    # The lock ends by itself; the next 10 wrong passwords lock it for 2 minutes.
    clock.advance(minutes=1, seconds=1)
    answers = [guess(client, "ann@example.com", n) for n in range(10)]
    assert [answer.status_code for answer in answers] == [422] * 10
    assert "Try again in 2 minutes" in guess(client, "ann@example.com", 3).get_data(as_text=True)
    assert len(lock_emails(session, "ann@example.com")) == 2
    clock.advance(minutes=2, seconds=1)
    assert sign_in(client, "ann@example.com").status_code == 302


def lock(client, email: str) -> None:
    answers = [guess(client, email, n) for n in range(10)]
    assert [answer.status_code for answer in answers] == [422] * 10
    assert guess(client, email, 0, password=PASSWORD).status_code == 429


def test_the_emailed_link_lets_the_owner_through_once(app, factory, session, clock):
    factory.user(email="ann@example.com")
    attacker = app.test_client()
    lock(attacker, "ann@example.com")
    link = unlock_path(lock_emails(session, "ann@example.com")[0])

    # Someone with the link but not the password gets nowhere (a few tries at most) ...
    thief = app.test_client()
    assert thief.get(link).headers["Location"] == "/sign-in"
    assert guess(thief, "ann@example.com", 1).status_code == 422
    # ... nor does the link open another locked account.
    factory.user(email="bob@example.com")
    lock(attacker, "bob@example.com")
    assert sign_in(thief, "bob@example.com").status_code == 429

    owner = app.test_client()
    assert owner.get(link).headers["Location"] == "/sign-in"
    page = owner.get("/sign-in").get_data(as_text=True)
    assert "this link lets you through the lock on your account once" in page
    assert sign_in(owner, "ann@example.com").headers["Location"] == "/profile"
    [event] = actions(session, "signin.unlock_link_used")
    assert event.subject_id is not None

    # Once: the same link does not let anyone through again, and the lock holds for others.
    again = app.test_client()
    again.get(link)
    assert "expired or was already used" in again.get("/sign-in").get_data(as_text=True)
    assert sign_in(again, "ann@example.com").status_code == 429
    assert sign_in(attacker, "ann@example.com").status_code == 429


def test_three_wrong_passwords_spend_the_link(app, factory, session, clock):
    factory.user(email="ann@example.com")
    lock(app.test_client(), "ann@example.com")
    link = unlock_path(lock_emails(session, "ann@example.com")[0])
    holder = app.test_client()
    holder.get(link)
    assert [guess(holder, "ann@example.com", n).status_code for n in range(3)] == [422] * 3
    assert sign_in(holder, "ann@example.com").status_code == 429


def test_an_unknown_email_locks_like_a_real_one(app, client, factory, session, clock):
    answers = [guess(client, "nobody@example.com", n) for n in range(11)]
    assert [answer.status_code for answer in answers] == [422] * 10 + [429]
    assert LOCKED in answers[-1].get_data(as_text=True)
    assert lock_emails(session, "nobody@example.com") == []


def test_a_right_password_starts_the_count_again(client, factory, clock):
    factory.user(email="ann@example.com")
    for _ in range(2):
        assert [guess(client, "ann@example.com", n).status_code for n in range(9)] == [422] * 9
        assert sign_in(client, "ann@example.com").status_code == 302
        client.post_form("/sign-out", token_from="/profile")
    assert guess(client, "ann@example.com", 0).status_code == 422


def test_an_admin_clears_the_lock_on_edit_user(app, factory, session, clock):
    system = factory.system(name="Harbour Law")
    factory.user(system, "boss@harbour.example", "Boss", admin=True)
    ann = factory.user(system, "ann@harbour.example", "Ann Smith")
    lock(app.test_client(), "ann@harbour.example")

    admin = app.test_client()
    assert sign_in(admin, "boss@harbour.example").status_code == 302
    page = admin.get(f"/admin/users/{ann.id}").get_data(as_text=True)
    assert "Password sign-in is locked until" in page
    assert "Clear sign-in lock" in page
    cleared = admin.post_form(
        f"/admin/users/{ann.id}/sign-in-lock", token_from=f"/admin/users/{ann.id}"
    )
    assert cleared.headers["Location"] == f"/admin/users/{ann.id}"
    page = admin.get(f"/admin/users/{ann.id}").get_data(as_text=True)
    assert "Cleared the sign-in lock: Ann Smith can sign in again." in page
    assert "Clear sign-in lock" not in page
    [event] = actions(session, "signin.lock_cleared")
    assert event.subject_id == ann.id
    assert sign_in(app.test_client(), "ann@harbour.example").status_code == 302


def test_another_firms_admin_cannot_clear_a_lock(app, factory, clock):
    ann = factory.user(email="ann@example.com")
    factory.user(email="boss@other.example", admin=True)
    lock(app.test_client(), "ann@example.com")
    admin = app.test_client()
    sign_in(admin, "boss@other.example")
    response = admin.post_form(f"/admin/users/{ann.id}/sign-in-lock", token_from="/profile")
    assert response.status_code == 404
    assert sign_in(app.test_client(), "ann@example.com").status_code == 429
