"""Who must set up MFA: the rule, the MUST ENROL gate on every route, the prompts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import mfa_support
from tests.conftest import sign_in
from webapp.mfa.enforcement import Requirement, mfa_requirement
from webapp.models import System, User

clock = mfa_support.clock  # the fixture, under its own name

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
EARLIER = NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    "has_mfa, required, deadline, country, accounting, expected",
    [
        (True, True, None, "NZ", "xero", Requirement.NONE),
        (True, False, None, "AU", "other", Requirement.NONE),
        (False, True, None, "GB", "none", Requirement.MUST_ENROL),
        (False, True, EARLIER, "GB", "none", Requirement.MUST_ENROL),
        (False, True, NOW, "GB", "none", Requirement.MUST_ENROL),
        (False, True, LATER, "GB", "none", Requirement.PROMPT_DEADLINE),
        (False, True, LATER, "NZ", "xero", Requirement.PROMPT_DEADLINE),
        (False, False, None, "NZ", "xero", Requirement.PROMPT_COMPLIANCE),
        (False, False, None, "AU", "other", Requirement.PROMPT_COMPLIANCE),
        (False, False, None, "NZ", "none", Requirement.NONE),
        (False, False, None, "GB", "xero", Requirement.NONE),
        (False, False, LATER, "US", "none", Requirement.NONE),
    ],
)
def test_the_rule(has_mfa, required, deadline, country, accounting, expected):
    system = System(
        name="F", country=country, timezone="UTC", accounting_link=accounting, mfa_required=required
    )
    user = User(
        system_id=1, email="a@b.c", display_name="A", password_hash="x", mfa_enabled=has_mfa
    )
    user.mfa_deadline = deadline
    assert mfa_requirement(user, system, NOW) is expected


def make_user(factory, session, *, required=False, deadline=None, country="GB", accounting="none"):
    system = factory.system(country=country, accounting=accounting)
    user = factory.user(system, email="ann@example.com")
    row_system = session.get(System, system.id)
    row_system.mfa_required = required
    row_user = session.get(User, user.id)
    row_user.mfa_deadline = deadline
    session.add_all([row_system, row_user])
    session.commit()
    return user


def test_must_enrol_reaches_only_the_enrolment_pages(client, factory, session, clock):
    make_user(factory, session, required=True)
    response = sign_in(client, "ann@example.com")
    assert response.headers["Location"] == "/profile"
    for path in ("/profile", "/admin/users", "/profile/mfa/deactivate", "/mfa/prompt", "/"):
        response = client.get(path)
        assert (response.status_code, response.headers["Location"]) == (302, "/profile/mfa/setup")
    partial = client.get("/profile", headers={"HX-Request": "true"})
    assert partial.headers["HX-Redirect"] == "/profile/mfa/setup"
    page = client.get("/profile/mfa/setup")
    assert page.status_code == 200
    assert "requires multi-factor authentication" in page.get_data(as_text=True)
    assert (
        client.post_form("/profile/mfa/setup", token_from="/profile/mfa/setup").status_code == 302
    )
    with client.get("/static/js/app.js") as static:
        assert static.status_code == 200
    assert (
        client.post_form("/sign-out", token_from="/profile/mfa/setup").headers["Location"]
        == "/sign-in"
    )
    assert client.get("/sign-in").status_code == 200


def test_after_the_deadline_the_user_must_enrol(client, factory, session, clock):
    make_user(factory, session, required=True, deadline=clock.now - timedelta(minutes=1))
    sign_in(client, "ann@example.com")
    assert client.get("/profile").headers["Location"] == "/profile/mfa/setup"


def test_before_the_deadline_each_sign_in_prompts_with_the_date(client, factory, session, clock):
    deadline = clock.now + timedelta(days=7)
    make_user(factory, session, required=True, deadline=deadline)
    for _ in range(2):
        response = sign_in(client, "ann@example.com")
        assert response.headers["Location"].startswith("/mfa/prompt?next=")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        # On the firm's clock (the factory's firms are in Auckland), zone named.
        local = deadline.astimezone(ZoneInfo("Pacific/Auckland"))
        assert f"{local:%H:%M} {local.tzname()} on {local.day} {local:%b %Y}" in page
        assert ">Set up now</button>" in page
        assert '<a class="button secondary" href="/profile">Remind me later</a>' in page
        assert client.get("/profile").status_code == 200  # skippable
        client.post_form("/sign-out", token_from="/profile")


def test_compliance_prompts_at_every_sign_in_and_explains_why(client, factory, session, clock):
    make_user(factory, session, country="NZ", accounting="xero")
    for _ in range(2):
        response = sign_in(client, "ann@example.com")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Tax authorities in many countries strongly advise" in page
        assert ">Set up now</button>" in page and "Remind me later" in page
        client.post_form("/sign-out", token_from="/profile")


def test_set_up_now_opens_the_setup(client, factory, session, clock):
    make_user(factory, session, country="AU", accounting="other")
    prompt = sign_in(client, "ann@example.com").headers["Location"]
    response = client.post_form("/profile/mfa/setup", token_from=prompt)
    assert response.headers["Location"] == "/profile/mfa/setup"
    assert 'aria-label="QR code"' in client.get("/profile/mfa/setup").get_data(as_text=True)


def test_no_prompt_without_a_reason(client, factory, session, clock):
    make_user(factory, session, country="NZ", accounting="none")
    assert sign_in(client, "ann@example.com").headers["Location"] == "/profile"
    assert client.get("/mfa/prompt").headers["Location"] == "/profile"
