"""Browser tests: the app served on a free loopback port, driven by Playwright
through Debian's Chromium (never a downloaded browser).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import sync_playwright
from sqlmodel import Session, SQLModel
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, CsrfClient, Factory
from webapp import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole test session."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """Serve `app` over HTTP on 127.0.0.1 (a free port); yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def live_server(app):
    """The test's own app (on a fresh database of each backend) while the test runs."""
    with serving(app) as url:
        yield url


@contextmanager
def browser_page(browser, base_url: str, width: int = 1280, height: int = 800, allowed=(422, 429)):
    """A fresh browser context (own cookies) and page; console errors fail the test,
    except the browser's note of a response with an `allowed` status."""
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height})
    context.set_default_timeout(5000)
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message) -> None:
        # 422/429 are how a form with errors or a lock answers; the browser logs
        # them, nothing failed.
        if message.type == "error" and not any(
            f"status of {status}" in message.text  # the browser's note
            or f"Response Status Error Code {status} " in message.text  # htmx's
            for status in allowed
        ):
            errors.append(message.text)

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield new_page
    finally:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


@pytest.fixture
def page(browser, live_server):
    with browser_page(browser, live_server) as new_page:
        yield new_page


# --- One app and server for the whole session ---------------------------------
# For tests that read pages and act as users of their own: they need no fresh
# database, so they share one (SQLite) instead of building an app each.


@dataclass
class Site:
    url: str
    app: Flask
    factory: Factory
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def unique(self, email: str) -> str:
        """`email` made unique for this session's shared database."""
        local, _, domain = email.partition("@")
        return f"{local}.{next(self.numbers)}@{domain}"

    def unique_name(self, name: str) -> str:
        """A firm name unique in this session's shared database."""
        return f"{name} {next(self.numbers)}"

    def session(self) -> Session:
        return Session(self.app.extensions["firmguard_db"], expire_on_commit=False)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("site")
    url = f"sqlite:///{directory / 'site.sqlite'}"
    engine = sa.create_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    app = create_app("testing", {"DATABASE_URL": url, "MAIL_FILE_DIR": str(directory / "mail")})
    app.test_client_class = CsrfClient
    with serving(app) as base_url:
        yield Site(base_url, app, Factory(app))
    app.extensions["firmguard_db"].dispose()


@pytest.fixture
def site_page(browser, site):
    """A fresh context on the shared site, 1280 × 800 (tests resize it)."""
    with browser_page(browser, site.url) as new_page:
        yield new_page


# --- What every page and dialog must pass --------------------------------------

WIDTHS = (1280, 390, 320)
HEIGHTS = {1280: 800, 390: 844, 320: 640}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
axe = Axe()  # axe-core as shipped by axe-playwright-python


def set_width(page, width: int) -> None:
    page.set_viewport_size({"width": width, "height": HEIGHTS[width]})


def axe_violations(page) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is now (with any open
    dialog), as readable lines."""
    results = axe.run(
        page,
        options={"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
    ]


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def check_page(page, what: str, widths=WIDTHS) -> None:
    """The page (and its open dialog) at each width: no horizontal scrolling, and
    axe-core finds nothing at the widths people use (1280 and 390)."""
    problems = []
    for width in widths:
        set_width(page, width)
        if page_width(page) > width:
            problems.append(f"{what} at {width}px is {page_width(page)}px wide")
        if width != 320:
            problems.extend(f"{what} at {width}px: {line}" for line in axe_violations(page))
    set_width(page, widths[0])
    assert problems == []


def wait_for_htmx(page) -> None:
    """htmx (a deferred script) is loaded: the page is interactive."""
    page.wait_for_function("() => typeof window.htmx === 'object'")


def browser_sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the real form."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
