"""The new sign-in notice: an email for a sign-in from a browser and address
pair not seen for that user in 90 days; never on a first ever sign-in, once
per new pair, again once the pair is forgotten (and purged)."""

from __future__ import annotations

import threading

from sqlalchemy.exc import OperationalError
from sqlmodel import select

from tests.conftest import sign_in
from tests.passwords.conftest import emails
from tests.test_browser_sessions import CHROME_WINDOWS, FIREFOX_MAC, browser
from webapp.browser_sessions import origins
from webapp.extensions import db
from webapp.models import SignInOrigin, User
from webapp.tasks import run_retention


def signs_in(app, user_agent: str, address: str) -> None:
    assert sign_in(browser(app, user_agent, address), "ann@example.com").status_code == 302


def notices(session):
    return emails(session, "new_sign_in", "ann@example.com")


def test_a_new_browser_and_address_is_emailed_once_never_on_the_first_sign_in(
    app, factory, clock, session
):
    factory.user(email="ann@example.com", name="Ann Lee")
    signs_in(app, CHROME_WINDOWS, "203.0.113.7")
    assert notices(session) == []  # the first ever sign-in
    clock.advance(hours=3)
    signs_in(app, CHROME_WINDOWS, "203.0.113.7")
    assert notices(session) == []  # the same browser and address
    clock.advance(hours=1)
    signs_in(app, FIREFOX_MAC, "198.51.100.20")
    (notice,) = notices(session)
    assert notice.subject == "New sign-in to your Firmguard account"
    for body in (notice.body_text, notice.body_html):
        assert "Hello Ann Lee" in body
        assert "Firefox on Mac OS X" in body and "198.51.100.20" in body
        assert "NZDT" in body  # when, on the firm's clock (Auckland)
        assert "If it was not" in body
        assert "/profile#sessions-section" in body
    assert "Where you're signed in" in notice.body_text
    # Firefox elsewhere is new again; Firefox there again is not.
    signs_in(app, FIREFOX_MAC, "198.51.100.20")
    signs_in(app, FIREFOX_MAC, "192.0.2.44")
    assert [n.body_text.count("192.0.2.44") > 0 for n in notices(session)] == [False, True]


def test_a_pair_unseen_for_90_days_is_new_again_and_purged(app, factory, clock, session):
    factory.user(email="ann@example.com", name="Ann Lee")
    signs_in(app, CHROME_WINDOWS, "203.0.113.7")
    signs_in(app, FIREFOX_MAC, "198.51.100.20")
    assert len(notices(session)) == 1
    # Seen again within a day and within 90 days: remembered, no email.
    clock.advance(days=89)
    signs_in(app, FIREFOX_MAC, "198.51.100.20")
    assert len(notices(session)) == 1
    # Chrome's pair was last seen 90 days ago: new again (its row not yet purged).
    clock.advance(days=1)
    signs_in(app, CHROME_WINDOWS, "203.0.113.7")
    assert len(notices(session)) == 2
    assert "Chrome on Windows" in notices(session)[-1].body_text
    # Purged once unseen for 90 days; then new again, emailed.
    clock.advance(days=90)
    assert run_retention.delay().get()["sign-in origins"] == 2
    session.expire_all()
    assert session.exec(select(SignInOrigin)).all() == []
    signs_in(app, FIREFOX_MAC, "198.51.100.20")
    assert len(notices(session)) == 3


def test_two_sign_ins_from_one_new_pair_at_once_email_once(app, factory, clock, session):
    factory.user(email="ann@example.com", name="Ann Lee")
    signs_in(app, CHROME_WINDOWS, "203.0.113.7")
    barrier = threading.Barrier(2)
    results = []

    def sign_in_at_once() -> None:
        with app.test_request_context():
            own = db.session  # this thread's own
            user = own.exec(select(User).where(User.email == "ann@example.com")).one()
            barrier.wait()
            try:
                origins.note_sign_in(
                    own, user, FIREFOX_MAC, "198.51.100.20", clock.now, first=False
                )
                own.commit()
                results.append(True)
            except OperationalError:  # SQLite refuses the later writer outright
                own.rollback()
                results.append(False)

    threads = [threading.Thread(target=sign_in_at_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert True in results
    assert len(notices(session)) == 1
    session.expire_all()
    assert len(session.exec(select(SignInOrigin)).all()) == 2
