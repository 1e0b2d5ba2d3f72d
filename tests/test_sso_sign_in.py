"""Single sign-on at the sign-in page, against a real OpenID provider
(tests/sso_support.py): the way in, what each refusal says, and what a
sign-in through the provider counts for.
"""

from __future__ import annotations

import threading

import pytest
from markupsafe import escape
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from tests.servers import free_port
from tests.sso_support import MISDIRECTED, configure_sso
from webapp.models import AuditEvent, User
from webapp.sso.flow import MESSAGES, Reason

clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": "http://localhost"}


@pytest.fixture
def alpha(app, factory, session, oidc_provider):
    """Alpha Law, whose provider is the test provider, with a few of its people."""
    system = factory.system("Alpha Law")
    people = {
        name: factory.user(system, email=f"{name}@alpha.test", name=name.title())
        for name in ("ada", "ben", "una", "ina")
    }
    people["adm"] = factory.user(system, email="adm@alpha.test", name="Adm", admin=True)
    inactive = session.get(User, people["ina"].id)
    inactive.active = False
    session.add(inactive)
    session.commit()
    return system, people


def start(client, email: str, next_target: str = ""):
    """ "Sign in with single sign-on" → "Work email", as htmx sends it."""
    return client.post_form(
        "/sign-in/sso", {"email": email, "next": next_target}, headers={"HX-Request": "true"}
    )


def sso_sign_in(client, provider, email: str, account: str | None = None):
    """The whole trip: work email, the provider's login page, back at the callback."""
    response = start(client, email)
    assert response.status_code == 200, response.get_data(as_text=True)
    callback = provider.login(response.headers["HX-Redirect"], account or email.split("@")[0])
    return client.get(callback.removeprefix("http://localhost")), callback


def shows(response, message: str) -> bool:
    """Whether the page shows `message` (as the template escapes it)."""
    return str(escape(message)) in response.get_data(as_text=True)


def signed_in_as(client) -> str | None:
    page = client.get("/profile")
    if page.status_code != 200:
        return None
    return page.get_data(as_text=True)


def audit_actions(session, system) -> list[tuple[str, dict]]:
    session.expire_all()
    events = session.exec(
        select(AuditEvent).where(AuditEvent.system_id == system.id).order_by(AuditEvent.id)
    )
    return [(event.action, event.details) for event in events]


def test_a_member_signs_in_through_the_provider(app, client, session, alpha, oidc_provider):
    system, people = alpha
    configure_sso(app, session, system, oidc_provider)
    response, _ = sso_sign_in(client, oidc_provider, "ada@alpha.test")
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    assert "Ada" in signed_in_as(client)
    user = session.get(User, people["ada"].id)
    session.refresh(user)
    assert user.last_sign_in_method == "sso_mfa"  # the provider's amr holds "mfa"
    assert user.last_sign_in_at is not None
    assert ("auth.sso_sign_in", {"provider_mfa": True}) in audit_actions(session, system)


def test_the_work_email_goes_to_the_provider_with_a_link_without_javascript(
    app, client, session, alpha, oidc_provider
):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    response = client.post_form("/sign-in/sso", {"email": "ben@alpha.test"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Continue to your firm's sign-in page" in page
    assert f'href="{oidc_provider.issuer}/auth?' in page
    assert "code_challenge_method=S256" in page and "nonce=" in page


def test_mfa_for_all_users_still_asks_a_member_with_mfa_for_the_code(
    app, client, session, alpha, oidc_provider, clock
):
    system, people = alpha
    configure_sso(app, session, system, oidc_provider, requirement="mfa")
    mfa_support.enable_mfa(app, session, people["ben"])
    response, _ = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.headers["Location"] == "/sign-in/verify"
    assert signed_in_as(client) is None
    response = mfa_support.submit_code(client, clock.code())
    assert response.status_code == 302
    assert "Ben" in signed_in_as(client)
    session.expire_all()
    assert session.get(User, people["ben"].id).last_sign_in_method == "sso"
    assert ("auth.sso_sign_in", {"provider_mfa": False}) in audit_actions(session, system)


def test_sso_or_mfa_skips_the_code(app, client, session, alpha, oidc_provider):
    system, people = alpha
    configure_sso(app, session, system, oidc_provider, requirement="sso_or_mfa")
    mfa_support.enable_mfa(app, session, people["ben"])
    response, _ = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.headers["Location"] == "/profile"
    assert "Ben" in signed_in_as(client)


def test_sso_only_refuses_the_password_but_lets_a_break_glass_admin_in_with_the_code(
    app, client, session, alpha, oidc_provider, clock
):
    system, people = alpha
    admin = people["adm"]
    mfa_support.enable_mfa(app, session, admin)
    configure_sso(
        app, session, system, oidc_provider, requirement="sso_only", break_glass_ids=[admin.id]
    )
    refused = sign_in(client, "ben@alpha.test")
    assert refused.status_code == 422
    assert "single sign-on only" in refused.get_data(as_text=True)
    assert signed_in_as(client) is None
    wrong = sign_in(client, "ben@alpha.test", password="not the password at all")
    # Nothing is told before the right password.
    assert "single sign-on only" not in wrong.get_data(as_text=True)
    assert "The email or password is incorrect." in wrong.get_data(as_text=True)

    response = sign_in(client, admin.email)
    assert response.headers["Location"] == "/sign-in/verify"
    response = mfa_support.submit_code(client, clock.code())
    assert "Adm" in signed_in_as(client)
    assert ("signin.failed", {"reason": "sso_only"}) in audit_actions(session, system)


@pytest.mark.parametrize(
    ("email", "account", "reason"),
    [
        ("una@alpha.test", "una", Reason.EMAIL_UNVERIFIED),
        ("ben@alpha.test", "bo", Reason.EMAIL_OUTSIDE_DOMAINS),  # another firm's domain
        ("ina@alpha.test", "ina", Reason.NO_ACCOUNT),  # inactive
        ("nina@alpha.test", "nina", Reason.NO_ACCOUNT),  # no account, none created
    ],
)
def test_who_the_provider_vouches_for_must_be_an_active_member(
    app, client, session, alpha, oidc_provider, email, account, reason
):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    response, _ = sso_sign_in(client, oidc_provider, email, account)
    assert response.status_code == 403
    assert shows(response, MESSAGES[reason])
    assert signed_in_as(client) is None
    failures = [d for action, d in audit_actions(session, system) if action == "auth.sso_failed"]
    assert [failure["reason"] for failure in failures] == [reason.value]


def test_create_users_on_first_sign_in_makes_a_user_never_an_admin(
    app, client, session, alpha, oidc_provider
):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider, create_users=True)
    response, _ = sso_sign_in(client, oidc_provider, "nina@alpha.test")
    assert response.headers["Location"] == "/profile"
    created = session.exec(select(User).where(User.email == "nina@alpha.test")).one()
    assert (created.system_id, created.role, created.display_name) == (
        system.id,
        "user",
        "Nina New",
    )
    assert "auth.sso_user_created" in [action for action, _ in audit_actions(session, system)]


def test_a_created_user_never_gets_a_provider_name_with_control_characters(
    app, client, session, alpha, oidc_provider
):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider, create_users=True)
    response, _ = sso_sign_in(client, oidc_provider, "nell@alpha.test")
    assert response.headers["Location"] == "/profile"
    created = session.exec(select(User).where(User.email == "nell@alpha.test")).one()
    assert created.display_name == "nell"  # the email's name, as when the provider gives none


def test_a_token_for_another_audience_is_refused(app, client, session, alpha, oidc_provider):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider, client=MISDIRECTED)
    response, _ = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.status_code == 403
    assert shows(response, MESSAGES[Reason.WRONG_AUDIENCE])
    assert signed_in_as(client) is None


def test_an_expired_token_is_refused(app, client, session, alpha, oidc_provider):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    # The provider's clock runs two hours behind: its one-hour ID tokens are born expired.
    with oidc_provider.clock(-2 * 3600):
        response, _ = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.status_code == 403
    assert shows(response, MESSAGES[Reason.TOKEN_EXPIRED])
    assert signed_in_as(client) is None


def test_a_replayed_or_foreign_callback_is_refused(app, client, session, alpha, oidc_provider):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    response, callback = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.status_code == 302
    client.post_form("/sign-out", {}, token_from="/profile")
    replay = client.get(callback.removeprefix("http://localhost"))
    assert replay.status_code == 400
    assert shows(replay, MESSAGES[Reason.STALE_STATE])
    assert signed_in_as(client) is None

    # A trip begun in one browser cannot be finished in another.
    started = start(client, "ben@alpha.test")
    callback = oidc_provider.login(started.headers["HX-Redirect"], "ben")
    other = app.test_client()
    response = other.get(callback.removeprefix("http://localhost"))
    assert response.status_code == 400
    assert signed_in_as(other) is None
    reasons = [d["reason"] for a, d in audit_actions(session, system) if a == "auth.sso_failed"]
    assert reasons == ["stale_state", "stale_state"]


def test_one_callback_sent_twice_at_once_signs_in_once(app, client, session, alpha, oidc_provider):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    started = start(client, "ben@alpha.test")
    callback = oidc_provider.login(started.headers["HX-Redirect"], "ben").removeprefix(
        "http://localhost"
    )
    cookie = client.get_cookie("firmguard_session").value
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def finish() -> None:
        twin = app.test_client()
        twin.set_cookie("firmguard_session", cookie)
        barrier.wait()
        statuses.append(twin.get(callback).status_code)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 400]
    signed_in = [a for a, _ in audit_actions(session, system) if a == "auth.sso_sign_in"]
    assert signed_in == ["auth.sso_sign_in"]


def test_an_unknown_domain_says_so_and_sends_nobody_anywhere(app, client, alpha, oidc_provider):
    response = start(client, "someone@unknown.test")
    assert response.status_code == 422
    assert "HX-Redirect" not in response.headers
    assert shows(response, MESSAGES[Reason.UNKNOWN_DOMAIN])


def test_a_provider_that_is_down_gets_a_clear_message_and_passwords_still_work(
    app, client, session, alpha, oidc_provider
):
    system, people = alpha
    configure_sso(
        app,
        session,
        system,
        oidc_provider,
        requirement="sso_or_mfa",
        issuer=f"http://localhost:{free_port()}",  # nothing listens there
    )
    response = start(client, "ben@alpha.test")
    assert response.status_code == 422
    assert shows(response, MESSAGES[Reason.PROVIDER_UNREACHABLE])
    assert ("auth.sso_failed", {"reason": "provider_unreachable", "detail": "ConnectionError"}) in (
        audit_actions(session, system)
    )
    response = sign_in(client, "ben@alpha.test")
    assert response.status_code == 302
    assert "Ben" in signed_in_as(client)


def test_keys_are_cached_and_fetched_again_for_an_unknown_key_id(
    app, session, alpha, oidc_provider
):
    system, _ = alpha
    configure_sso(app, session, system, oidc_provider)
    before = oidc_provider.stats()
    for _ in range(2):
        response, _ = sso_sign_in(app.test_client(), oidc_provider, "ben@alpha.test")
        assert response.status_code == 302
    cached = oidc_provider.stats()
    assert (cached["discovery"] - before["discovery"], cached["jwks"] - before["jwks"]) == (1, 1)
    oidc_provider.rotate_keys()  # the provider signs with a key id we have not seen
    response, _ = sso_sign_in(app.test_client(), oidc_provider, "ben@alpha.test")
    assert response.status_code == 302
    after = oidc_provider.stats()
    assert after["jwks"] - cached["jwks"] == 1


@pytest.mark.parametrize(("requirement", "enrol"), [("mfa", True), ("sso_or_mfa", False)])
def test_a_firm_requiring_mfa_takes_sso_for_it_only_where_it_says_so(
    app, client, session, alpha, oidc_provider, requirement, enrol
):
    system, people = alpha
    row = session.get(type(system), system.id)
    row.mfa_required = True
    session.add(row)
    session.commit()
    configure_sso(app, session, system, oidc_provider, requirement=requirement)
    response, _ = sso_sign_in(client, oidc_provider, "ben@alpha.test")
    assert response.status_code == 302
    profile = client.get("/profile")
    assert (profile.status_code, profile.headers.get("Location")) == (
        (302, "/profile/mfa/setup") if enrol else (200, None)
    )
