"""Security settings → "Single sign-on", as a firm's admin uses it, against the
real OpenID provider (tests/sso_support.py)."""

from __future__ import annotations

import html
import threading

import pytest
from markupsafe import escape
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from tests.sso_support import ALPHA, configure_sso
from tests.step_up_support import confirm_its_you
from webapp.crypto import decrypt_secret
from webapp.models import AuditEvent, SsoConfig, SsoDomain, User

clock = mfa_support.clock  # the fixture, under its own name


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": "http://localhost"}


@pytest.fixture
def alpha(factory):
    system = factory.system("Alpha Law")
    admin = factory.user(system, email="adm@alpha.test", name="Adm Alpha", admin=True)
    return system, admin


def config_of(session, system) -> SsoConfig | None:
    session.expire_all()
    return session.exec(select(SsoConfig).where(SsoConfig.system_id == system.id)).first()


def actions(session, system) -> list[tuple[str, dict]]:
    """The firm's single sign-on settings events, oldest first."""
    session.expire_all()
    events = session.exec(
        select(AuditEvent).where(AuditEvent.system_id == system.id).order_by(AuditEvent.id)
    )
    return [(event.action, event.details) for event in events if event.action.startswith("sso.")]


def save_provider(client, provider, **fields):
    data = {
        "issuer": provider.issuer,
        "client_id": ALPHA[0],
        "client_secret": ALPHA[1],
        "domains": "alpha.test, Alpha-Law.test",
        **fields,
    }
    return client.post_form("/admin/security/sso", data, token_from="/admin/security")


def save_requirement(client, requirement: str, **fields):
    return client.post_form(
        "/admin/security/sso/requirement",
        {"requirement": requirement, **fields},
        token_from="/admin/security",
    )


def test_admin_configures_and_test_sign_in_reports_what_the_provider_returned(
    app, client, session, alpha, oidc_provider
):
    system, admin = alpha
    sign_in(client, admin.email)
    confirm_its_you(client)
    assert save_provider(client, oidc_provider).status_code == 302
    config = config_of(session, system)
    assert (config.issuer, config.client_id, config.tested_at) == (
        oidc_provider.issuer,
        ALPHA[0],
        None,
    )
    with app.app_context():
        assert decrypt_secret(config.client_secret_encrypted) == ALPHA[1]
    assert ALPHA[1] not in config.client_secret_encrypted
    domains = session.exec(select(SsoDomain.domain).where(SsoDomain.system_id == system.id))
    assert sorted(domains) == ["alpha-law.test", "alpha.test"]
    page = client.get("/admin/security").get_data(as_text=True)
    assert ALPHA[1] not in page
    assert "Replace secret" in page and 'name="client_secret"' not in page
    assert "http://localhost/sign-in/sso/callback" in page  # what to register at the provider

    started = client.post_form(
        "/admin/security/sso/test", {}, token_from="/admin/security", headers={"HX-Request": "true"}
    )
    callback = oidc_provider.login(started.headers["HX-Redirect"], "adm")
    report = client.get(callback.removeprefix("http://localhost")).get_data(as_text=True)
    assert "Your provider signed you in" in report
    for shown in (oidc_provider.issuer, "adm@alpha.test", "pwd, otp, mfa"):
        assert shown in report
    assert "<dt>email_verified</dt><dd>true</dd>" in report
    assert config_of(session, system).tested_at is not None
    assert "Adm Alpha" in client.get("/profile").get_data(as_text=True)  # still the same session

    response = save_requirement(client, "sso_or_mfa", provider_enforces_mfa="y")
    assert response.status_code == 302
    config = config_of(session, system)
    assert (config.requirement, config.provider_enforces_mfa) == ("sso_or_mfa", True)
    logged = actions(session, system)
    assert [action for action, _ in logged] == [
        "sso.settings_changed",
        "sso.test_sign_in",
        "sso.requirement_changed",
        "sso.provider_mfa_acknowledged",
    ]
    assert logged[1][1]["amr"] == ["pwd", "otp", "mfa"]
    assert logged[3][1] == {"acknowledged": True}
    assert all(ALPHA[1] not in str(details) for _, details in logged)


def test_a_failed_test_sign_in_is_reported_and_tests_nothing(
    app, client, session, alpha, oidc_provider
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider, tested_at=None)
    sign_in(client, admin.email)
    confirm_its_you(client)
    with oidc_provider.clock(-2 * 3600):
        started = client.post_form(
            "/admin/security/sso/test", {}, token_from="/admin/security"
        )  # without JavaScript: a page with the link
        link = started.get_data(as_text=True).split('class="button" href="')[1].split('"')[0]
        callback = oidc_provider.login(html.unescape(link), "adm")
        report = client.get(callback.removeprefix("http://localhost")).get_data(as_text=True)
    assert "The test sign-in did not work" in report
    assert "already expired" in report
    assert config_of(session, system).tested_at is None
    assert actions(session, system)[-1] == (
        "sso.test_sign_in",
        {"ok": False, "reason": "token_expired"},
    )


def test_a_requirement_beyond_mfa_needs_a_good_test_first(
    app, client, session, alpha, oidc_provider
):
    system, admin = alpha
    sign_in(client, admin.email)
    confirm_its_you(client)
    save_provider(client, oidc_provider)
    response = save_requirement(client, "sso_or_mfa")
    assert response.status_code == 422
    assert "Run “Test sign-in” successfully first" in response.get_data(as_text=True)
    assert config_of(session, system).requirement == "mfa"


def test_sso_only_needs_break_glass_admins_with_mfa_and_signs_out_the_rest(
    app, client, session, factory, alpha, oidc_provider, clock
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider)
    colleague = factory.user(system, email="ben@alpha.test", name="Ben")
    elsewhere = app.test_client()
    sign_in(elsewhere, colleague.email)
    sign_in(client, admin.email)
    confirm_its_you(client)

    response = save_requirement(client, "sso_only")
    assert "Choose at least one break-glass admin" in response.get_data(as_text=True)
    response = save_requirement(client, "sso_only", break_glass=str(admin.id))
    assert "must set up MFA first" in response.get_data(as_text=True)
    assert config_of(session, system).requirement == "mfa"

    mfa_support.enable_mfa(app, session, admin)
    response = save_requirement(client, "sso_only", break_glass=str(admin.id))
    assert response.status_code == 302
    assert config_of(session, system).break_glass_ids == [admin.id]
    assert elsewhere.get("/profile").status_code == 302  # Ben's password session ended
    assert client.get("/profile").status_code == 200  # the admin's did not


def test_an_admin_signed_in_by_password_must_be_break_glass_to_choose_sso_only(
    app, client, session, factory, alpha, oidc_provider
):
    system, admin = alpha
    other = factory.user(system, email="other@alpha.test", name="Other", admin=True)
    configure_sso(app, session, system, oidc_provider)
    mfa_support.enable_mfa(app, session, other)
    sign_in(client, admin.email)
    confirm_its_you(client)
    response = save_requirement(client, "sso_only", break_glass=str(other.id))
    assert response.status_code == 422
    assert "add yourself to the break-glass admins" in response.get_data(as_text=True)


def test_replace_secret_shows_the_field_in_place_and_needs_a_new_test(
    app, client, session, alpha, oidc_provider
):
    system, admin = alpha
    configure_sso(app, session, system, oidc_provider)
    sign_in(client, admin.email)
    confirm_its_you(client)
    fragment = client.get("/admin/security?replace=secret", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="sso-secret">')
    assert 'name="client_secret"' in body and "Save secret" in body
    response = client.post_form(
        "/admin/security/sso/secret",
        {"client_secret": "a brand new secret"},
        token_from="/admin/security",
    )
    assert response.status_code == 302
    config = config_of(session, system)
    with app.app_context():
        assert decrypt_secret(config.client_secret_encrypted) == "a brand new secret"
    assert config.tested_at is None
    assert actions(session, system)[-1] == ("sso.secret_replaced", {})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"domains": "beta.test"}, "“beta.test” is already used by another firm."),
        ({"domains": "not a domain"}, "“not” is not an email domain"),
        ({"issuer": "ftp://provider.test"}, "Enter the provider's Issuer URL"),
        ({"client_id": "  "}, "Enter the Client ID"),
    ],
)
def test_bad_settings_get_a_clear_message_and_change_nothing(
    app, client, session, factory, alpha, oidc_provider, fields, message
):
    system, admin = alpha
    beta = factory.system("Beta Law")
    configure_sso(app, session, beta, oidc_provider, domains=("beta.test",))
    sign_in(client, admin.email)
    confirm_its_you(client)
    response = save_provider(client, oidc_provider, **fields)
    assert response.status_code == 422
    assert str(escape(message)) in response.get_data(as_text=True)
    assert config_of(session, system) is None


def test_two_firms_claiming_one_domain_at_once_leave_it_to_one(
    app, session, factory, oidc_provider
):
    admins = []
    for name in ("Gamma Law", "Delta Law"):
        system = factory.system(name)
        admins.append(factory.user(system, email=f"adm@{name.split()[0].lower()}.test", admin=True))
    clients = []
    for admin in admins:
        client = app.test_client()
        sign_in(client, admin.email)
        confirm_its_you(client)
        clients.append((client, client.csrf_token("/admin/security")))
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def claim(client, token) -> None:
        barrier.wait()
        response = client.post(
            "/admin/security/sso",
            data={
                "csrf_token": token,
                "issuer": oidc_provider.issuer,
                "client_id": "firmguard",
                "client_secret": "secret",
                "domains": "shared.test",
            },
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=claim, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 422]
    owners = session.exec(select(SsoDomain.system_id).where(SsoDomain.domain == "shared.test"))
    assert len(list(owners)) == 1
    users = session.exec(select(User)).all()
    assert len(users) == 2
