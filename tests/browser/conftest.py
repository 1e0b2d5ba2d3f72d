"""Browser tests: the app served on a free loopback port, driven by Playwright
through Debian's Chromium (never a downloaded browser).
"""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

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


@pytest.fixture
def live_server(app):
    """The app served over HTTP on 127.0.0.1 (a free port) while the test runs."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (own cookies) and page per test; console errors fail it."""
    context = browser.new_context(base_url=live_server)
    context.set_default_timeout(5000)
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message) -> None:
        # 422 is how a form with errors answers; the browser logs it, nothing failed.
        if message.type == "error" and "status of 422" not in message.text:
            errors.append(message.text)

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    context.close()
    assert errors == [], f"browser console errors: {errors}"


def browser_sign_in(page, email: str, password: str) -> None:
    """Sign in through the real form."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
