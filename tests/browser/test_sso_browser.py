"""Single sign-on in Chromium, through the real provider's own login page, under
the app's real CSP (`form-action 'self'`: the trip to the provider must not be
a redirect of a form's POST)."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from sqlmodel import select
from werkzeug.serving import make_server

from tests.browser.conftest import browser_sign_in
from tests.conftest import PASSWORD
from tests.sso_support import ALPHA, PROVIDER_PASSWORD, configure_sso
from webapp.models import SsoConfig


@pytest.fixture
def app_overrides(oidc_provider) -> dict:
    return {"BASE_URL": f"http://localhost:{oidc_provider.app_port}"}


@pytest.fixture
def live_server(app, oidc_provider):
    """The app at http://localhost:APP_PORT, the address the provider sends people back to."""
    server = make_server("127.0.0.1", oidc_provider.app_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{oidc_provider.app_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def provider_login(page, username: str) -> None:
    """The provider's own login page."""
    expect(page.get_by_role("heading", name="Test Identity Provider")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PROVIDER_PASSWORD)
    page.get_by_role("button", name="Continue").click()


def test_a_user_signs_in_with_single_sign_on(page, app, session, factory, oidc_provider):
    system = factory.system("Alpha Law")
    factory.user(system, email="ada@alpha.test", name="Ada Alpha")
    configure_sso(app, session, system, oidc_provider, requirement="sso_or_mfa")

    page.goto("/sign-in")
    page.get_by_role("link", name="Sign in with single sign-on").click()
    page.get_by_label("Work email").fill("ada@alpha.test")
    page.get_by_role("button", name="Continue").click()
    provider_login(page, "ada@alpha.test")

    expect(page.get_by_role("link", name="Ada Alpha")).to_be_visible()
    assert page.url.endswith("/profile")


def test_an_admin_configures_single_sign_on_and_tests_it(
    page, app, session, factory, oidc_provider
):
    system = factory.system("Alpha Law")
    factory.user(system, email="adm@alpha.test", name="Adm Alpha", admin=True)
    browser_sign_in(page, "adm@alpha.test", PASSWORD)
    page.goto("/admin/security")

    page.get_by_label("Issuer URL").fill(oidc_provider.issuer)
    page.get_by_label("Client ID").fill(ALPHA[0])
    page.get_by_label("Client secret").fill(ALPHA[1])
    page.get_by_label("Email domains").fill("alpha.test")
    page.get_by_role("button", name="Save single sign-on").click()
    # A change of the firm's sign-in settings: "Confirm it's you" first (a page
    # here, the form is not htmx), then the settings as typed are saved.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Saved the single sign-on settings.")).to_be_visible()
    expect(page.get_by_label("Client secret")).to_have_count(0)  # never shown again

    page.get_by_role("button", name="Test sign-in").click()
    provider_login(page, "adm@alpha.test")
    expect(page.get_by_role("heading", name="Your provider signed you in")).to_be_visible()
    expect(page.locator("dl.report")).to_contain_text("adm@alpha.test")
    expect(page.locator("dl.report")).to_contain_text("pwd, otp, mfa")

    page.get_by_role("link", name="Back to Security settings").click()
    page.get_by_label("SSO or MFA").check()
    page.get_by_role("button", name="Save sign-in requirement").click()
    expect(page.get_by_text("Saved the sign-in requirement: SSO or MFA.")).to_be_visible()
    session.expire_all()
    config = session.exec(select(SsoConfig).where(SsoConfig.system_id == system.id)).one()
    assert (config.requirement, config.tested_at is not None) == ("sso_or_mfa", True)
