"""Single sign-on tests against a real OpenID provider: panva's oidc-provider,
run by tests/oidc_provider/provider.mjs (one process per test session).

The provider knows the clients and accounts below. The app under test is at
`http://localhost` (Flask's test client) or `http://localhost:APP_PORT` (the
browser tests' live server), both registered as redirect URIs.
"""

from __future__ import annotations

import json
import re
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from tests.servers import free_port, wait_for_port
from webapp.crypto import encrypt_secret
from webapp.models import SsoConfig, SsoDomain, utcnow

HARNESS_DIR = Path(__file__).parent / "oidc_provider"
PROVIDER_PASSWORD = "provider password 1"
CALLBACK = "/sign-in/sso/callback"

ALPHA = ("alpha-firmguard", "alpha client secret")
BETA = ("beta-firmguard", "beta client secret")
# Its ID tokens name ALPHA's client as their audience (azp still names it).
MISDIRECTED = ("misdirected-firmguard", "misdirected client secret")


@dataclass(frozen=True)
class Account:
    login: str
    email_verified: bool = True
    amr: tuple[str, ...] = ("pwd",)
    name: str = ""


ACCOUNTS = {
    "ada": Account("ada@alpha.test", amr=("pwd", "mfa"), name="Ada Alpha"),
    "ben": Account("ben@alpha.test", name="Ben Alpha"),
    "una": Account("una@alpha.test", email_verified=False, name="Una Unverified"),
    "ina": Account("ina@alpha.test", name="Ina Inactive"),
    "nina": Account("nina@alpha.test", name="Nina New"),
    # A provider's name that would split an email header: never a display name.
    "nell": Account("nell@alpha.test", name="Nell\r\nBcc: everyone@alpha.test"),
    "adm": Account("adm@alpha.test", amr=("pwd", "otp", "mfa"), name="Adm Alpha"),
    "bo": Account("bo@beta.test", name="Bo Beta"),
}


@dataclass
class OidcProvider:
    """The running provider and its test controls."""

    port: int
    app_port: int
    process: subprocess.Popen

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.port}"

    def _control(self, path: str, method: str = "POST", **params) -> dict:
        response = requests.request(
            method, f"{self.issuer}/__harness/{path}", params=params, timeout=10
        )
        response.raise_for_status()
        return response.json()

    @contextmanager
    def clock(self, offset_seconds: int):
        """The provider's clock runs `offset_seconds` off while inside."""
        self._control("clock", offset=offset_seconds)
        try:
            yield
        finally:
            self._control("clock", offset=0)

    def rotate_keys(self) -> str:
        return self._control("rotate-keys")["kid"]

    def stats(self) -> dict:
        return self._control("stats", method="GET")

    def login(self, authorize_url: str, account: str, password: str = PROVIDER_PASSWORD) -> str:
        """Sign in on the provider's own login page, as a browser would; return
        the URL it sends the browser back to (the app's callback)."""
        browser = requests.Session()
        page = browser.get(authorize_url, timeout=10)
        page.raise_for_status()
        action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        response = browser.post(
            urljoin(page.url, action),
            data={"username": ACCOUNTS[account].login, "password": password},
            allow_redirects=False,
            timeout=10,
        )
        while response.status_code in (302, 303):
            location = urljoin(response.url, response.headers["Location"])
            if urlsplit(location).path == CALLBACK:
                return location
            response = browser.get(location, allow_redirects=False, timeout=10)
        raise AssertionError(f"the provider did not send the browser back: {response.text[:300]}")


def start_provider(work_dir: Path) -> OidcProvider:
    if not (HARNESS_DIR / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(
            "The test OpenID provider is not installed: run scripts/test, or "
            "`npm ci` in tests/oidc_provider."
        )
    port, app_port = free_port(), free_port()
    redirect_uris = [f"http://localhost{CALLBACK}", f"http://localhost:{app_port}{CALLBACK}"]
    client = lambda pair, **more: {  # noqa: E731
        "client_id": pair[0],
        "client_secret": pair[1],
        "redirect_uris": redirect_uris,
        **more,
    }
    config = {
        "port": port,
        "clients": [client(ALPHA), client(BETA), client(MISDIRECTED, wrong_audience=ALPHA[0])],
        "accounts": [
            {
                "login": account.login,
                "password": PROVIDER_PASSWORD,
                "email": account.login,
                "email_verified": account.email_verified,
                "name": account.name,
                "amr": list(account.amr),
            }
            for account in ACCOUNTS.values()
        ],
    }
    config_path = work_dir / "provider.json"
    config_path.write_text(json.dumps(config))
    with (work_dir / "provider.log").open("w") as log:
        process = subprocess.Popen(
            ["node", str(HARNESS_DIR / "provider.mjs"), str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port)
    except TimeoutError:
        process.kill()
        raise RuntimeError((work_dir / "provider.log").read_text()) from None
    return OidcProvider(port, app_port, process)


def configure_sso(
    app,
    session,
    system,
    provider: OidcProvider,
    *,
    client: tuple[str, str] = ALPHA,
    domains: tuple[str, ...] = ("alpha.test",),
    requirement: str = "mfa",
    issuer: str | None = None,
    **settings,
) -> SsoConfig:
    """A firm's single sign-on as an admin would leave it after a good test sign-in."""
    with app.app_context():
        secret = encrypt_secret(client[1])
    config = SsoConfig(
        system_id=system.id,
        issuer=issuer or provider.issuer,
        client_id=client[0],
        client_secret_encrypted=secret,
        requirement=requirement,
        tested_at=settings.pop("tested_at", utcnow()),
        **settings,
    )
    session.add(config)
    session.add_all(SsoDomain(system_id=system.id, domain=domain) for domain in domains)
    session.commit()
    return config
