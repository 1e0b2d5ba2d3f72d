"""Where you're signed in: one row per live browser session on My Profile,
each signed out on its own (at that browser's next request), "Sign out
everywhere else", the timeouts, the purge, and Edit user's read-only copy."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from tests.mfa_support import signed_in
from tests.step_up_support import confirm_its_you
from webapp.models import AuditEvent, BrowserSession, StepUpProof, System
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0"


def browser(app, user_agent: str, address: str):
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": user_agent, "REMOTE_ADDR": address})
    return client


@pytest.fixture
def two_browsers(app, factory, clock):
    """Ann signed in on Chrome (Windows) at 203.0.113.7, then on Firefox (macOS)."""
    ann = factory.user(email="ann@example.com", name="Ann Lee")
    chrome = browser(app, CHROME_WINDOWS, "203.0.113.7")
    assert sign_in(chrome, "ann@example.com").status_code == 302
    clock.advance(minutes=2)
    firefox = browser(app, FIREFOX_MAC, "198.51.100.20")
    assert sign_in(firefox, "ann@example.com").status_code == 302
    return ann, chrome, firefox


def rows(session, user) -> list[BrowserSession]:
    session.expire_all()
    query = select(BrowserSession).where(BrowserSession.user_id == user.id)
    return list(session.exec(query.order_by(BrowserSession.id)))


def actions(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def test_my_profile_lists_each_live_session_with_this_device_first(two_browsers):
    _, chrome, firefox = two_browsers
    page = chrome.get("/profile").get_data(as_text=True)
    section = page[page.index("Where you're signed in") :]
    assert "Chrome on Windows" in section and "Firefox on Mac OS X" in section
    assert "203.0.113.7" in section and "198.51.100.20" in section
    # This device first, marked; the times on the firm's clock (Auckland).
    assert section.index("Chrome on Windows") < section.index("This device")
    assert section.index("This device") < section.index("Firefox on Mac OS X")
    assert "NZDT" in section
    # "Sign out" on the other session's row only: the toolbar's ends this one.
    assert section.count(">Sign out</button>") == 1
    assert section.index(">Sign out</button>") > section.index("Firefox on Mac OS X")
    assert "Sign out everywhere else" in section


def test_signing_out_another_session_ends_it_at_its_next_request_only(app, two_browsers, session):
    ann, chrome, firefox = two_browsers
    other = rows(session, ann)[1]
    response = chrome.post_form(f"/profile/sessions/{other.id}/sign-out", token_from="/profile")
    assert response.status_code == 302
    assert "Signed out that session." in chrome.get("/profile").get_data(as_text=True)
    gone = firefox.get("/profile")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/sign-in")
    assert signed_in(chrome)
    page = chrome.get("/profile").get_data(as_text=True)
    assert "Firefox on Mac OS X" not in page
    (event,) = actions(session, "session.signed_out")
    assert event.details["browser"] == "Firefox on Mac OS X"
    assert event.details["address"] == "198.51.100.20"


def test_htmx_swaps_the_section_in_place(two_browsers, session):
    ann, chrome, _ = two_browsers
    other = rows(session, ann)[1]
    response = chrome.post_form(
        f"/profile/sessions/{other.id}/sign-out",
        token_from="/profile",
        headers={"HX-Request": "true", "HX-Target": "sessions-section"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" aria-labelledby="sessions-heading"')
    assert "Signed out that session." in body and "Firefox on Mac OS X" not in body


def test_sign_out_everywhere_else_keeps_this_one(app, two_browsers, session, factory):
    ann, chrome, firefox = two_browsers
    third = browser(app, CHROME_WINDOWS, "192.0.2.1")
    sign_in(third, "ann@example.com")
    response = firefox.post_form("/profile/sessions/sign-out-others", token_from="/profile")
    assert response.status_code == 302
    page = firefox.get("/profile").get_data(as_text=True)
    assert "Signed out everywhere else." in page
    assert not signed_in(chrome) and not signed_in(third)
    assert "Sign out everywhere else" not in page  # nothing else left to sign out
    assert len(actions(session, "session.signed_out_elsewhere")) == 1


def test_this_devices_own_sign_out_signs_out_here_only(two_browsers, session):
    ann, chrome, firefox = two_browsers
    mine = rows(session, ann)[0]
    response = chrome.post_form(f"/profile/sessions/{mine.id}/sign-out", token_from="/profile")
    assert response.headers["Location"] == "/sign-in"
    assert not signed_in(chrome)
    assert signed_in(firefox)
    # With htmx: the whole page goes to the sign-in page (not into the section).
    sign_in(chrome, "ann@example.com")
    mine = rows(session, ann)[-1]
    response = chrome.post_form(
        f"/profile/sessions/{mine.id}/sign-out",
        token_from="/profile",
        headers={"HX-Request": "true", "HX-Target": "sessions-section"},
    )
    assert response.headers["HX-Redirect"] == "/sign-in"
    assert not signed_in(chrome) and signed_in(firefox)


def test_nobody_signs_out_someone_elses_session(two_browsers, factory, app, session):
    ann, _, _ = two_browsers
    factory.user(email="eve@example.com")
    eve = app.test_client()
    sign_in(eve, "eve@example.com")
    victim = rows(session, ann)[0]
    response = eve.post_form(f"/profile/sessions/{victim.id}/sign-out", token_from="/profile")
    assert response.status_code == 404
    assert rows(session, ann)[0].ended_at is None


def test_a_password_change_or_sign_out_still_ends_every_session(two_browsers, session):
    ann, chrome, firefox = two_browsers
    chrome.post_form("/sign-out", token_from="/profile")
    assert not signed_in(chrome) and not signed_in(firefox)
    # A stolen copy of the cookie does not bring the row back.
    assert "Firefox" not in firefox.get("/profile", follow_redirects=True).get_data(as_text=True)


def test_idle_and_old_sessions_leave_the_list_and_are_purged(app, two_browsers, session, clock):
    ann, chrome, firefox = two_browsers
    # Last activity is noted at most once a minute.
    chrome.get("/profile")
    noted = clock.now
    clock.advance(seconds=30)
    chrome.get("/profile")
    assert rows(session, ann)[0].last_active_at == noted
    clock.advance(seconds=40)
    chrome.get("/profile")
    assert rows(session, ann)[0].last_active_at == clock.now
    # Firefox idle past 30 minutes (and the minute's grace): gone from the list.
    clock.advance(minutes=30)
    assert "Firefox" not in chrome.get("/profile").get_data(as_text=True)
    assert run_retention.delay().get()["browser sessions"] == 1
    assert [row.user_agent for row in rows(session, ann)] == [CHROME_WINDOWS]
    # Active Chrome ends at 12 hours all the same, and its row goes too.
    for _ in range(25):
        clock.advance(minutes=29)
        chrome.get("/profile")
    assert not signed_in(chrome)
    assert run_retention.delay().get()["browser sessions"] == 1
    assert rows(session, ann) == []


def test_signing_a_session_out_ends_its_step_up_proof_only(app, factory, clock, session):
    admin = factory.user(email="root@example.com", admin=True)
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        sign_in(client, "root@example.com")
        confirm_its_you(client)
    assert len(list(session.exec(select(StepUpProof)))) == 2
    other = rows(session, admin)[1]
    first.post_form(f"/profile/sessions/{other.id}/sign-out", token_from="/profile")
    session.expire_all()
    (left,) = session.exec(select(StepUpProof)).all()
    assert left.browser_session_id == rows(session, admin)[0].id


def test_edit_user_lists_a_users_sessions_read_only_and_signs_them_out(
    app, two_browsers, factory, session
):
    ann, chrome, firefox = two_browsers
    factory.user(session.get(System, ann.system_id), email="root@example.com", admin=True)
    admin = app.test_client()
    sign_in(admin, "root@example.com")
    page = admin.get(f"/admin/users/{ann.id}").get_data(as_text=True)
    section = page[page.index("Where Ann Lee is signed in") :]
    assert "Chrome on Windows" in section and "Firefox on Mac OS X" in section
    assert ">Sign out</button>" not in section and "This device" not in section
    path = f"/admin/users/{ann.id}/sessions/sign-out"
    # Step-up first: nothing happens without a fresh proof.
    asked = admin.post_form(path, token_from=f"/admin/users/{ann.id}")
    assert "Confirm it" in asked.get_data(as_text=True)
    assert signed_in(chrome)
    confirm_its_you(admin)
    response = admin.post_form(path, token_from=f"/admin/users/{ann.id}")
    assert response.status_code == 302
    assert not signed_in(chrome) and not signed_in(firefox)
    assert signed_in(admin)
    (event,) = actions(session, "session.signed_out_by_admin")
    assert event.subject_id == ann.id
