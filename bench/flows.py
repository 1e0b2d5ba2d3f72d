"""The sign-in flow, step by step, as the benchmarks drive it over HTTP (both apps)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urljoin

import requests
from common import (
    PASSWORD,
    AppUnderTest,
    BenchUser,
    Form,
    code_at,
    current_step,
    find_form,
    path_of,
)

SIGN_IN_STEPS = ("sign-in form", "password", "code page", "code", "protected page")
PASSKEY_STEPS = ("sign-in form", "passkey options", "passkey", "protected page")


class FlowError(Exception):
    """A step answered something other than what a working sign-in gets."""

    def __init__(self, step: str, response: requests.Response | None, detail: str = ""):
        status = response.status_code if response is not None else "-"
        super().__init__(f"{step}: {status} {detail}".strip())
        self.step = step
        self.status = status
        self.response = response


def timed(
    timings: dict[str, float] | None, step: str, call: Callable[..., requests.Response], *a, **kw
) -> requests.Response:
    """Make one request, noting its wall time in ms under `step`."""
    started = time.perf_counter()
    response = call(*a, timeout=60, **kw)
    if timings is not None:
        timings[step] = (time.perf_counter() - started) * 1000
    return response


def code_accepted(http: requests.Session, app: AppUnderTest, response: requests.Response) -> bool:
    """Whether the code POST signed the session in: it redirected, and the
    protected page now answers 200 (the peer first redirects to its sign-in URL,
    which passes a signed-in user on)."""
    if response.status_code not in (301, 302, 303):
        return False
    protected = http.get(app.url(app.protected_path), allow_redirects=False, timeout=60)
    return protected.status_code == 200


def submit_password(
    http: requests.Session, app: AppUnderTest, email: str, timings: dict | None = None
) -> requests.Response:
    """GET the sign-in form and POST the password; returns the POST's response."""
    page = timed(timings, "sign-in form", http.get, app.url(app.sign_in_path))
    form = find_form(page.text, "password") if page.status_code == 200 else None
    if form is None:
        raise FlowError("sign-in form", page, "no password form")
    return post_form(http, page, form, "password", timings, email=email, password=PASSWORD)


def start_sign_in(
    http: requests.Session, app: AppUnderTest, email: str, timings: dict | None = None
) -> str:
    """The password step; returns the code page's URL it redirects to."""
    response = submit_password(http, app, email, timings)
    target = response.headers.get("Location", "")
    if response.status_code not in (302, 303) or path_of(target) != app.code_path:
        raise FlowError("password", response, f"expected a redirect to {app.code_path}")
    return app.url(target)


def open_code_step(
    http: requests.Session, url: str, timings: dict | None = None
) -> tuple[requests.Response, Form | None]:
    """GET the code page; the form is None when the page does not offer the code step."""
    page = timed(timings, "code page", http.get, url, allow_redirects=False)
    form = find_form(page.text, "code") if page.status_code == 200 else None
    return page, form


def submit_code(
    http: requests.Session,
    page: requests.Response,
    form: Form,
    code: str,
    timings: dict | None = None,
) -> requests.Response:
    return post_form(http, page, form, "code", timings, code=code)


def post_form(
    http: requests.Session,
    page: requests.Response,
    form: Form,
    step: str,
    timings: dict | None,
    **values: str,
) -> requests.Response:
    """POST `form` of `page` (its own fields, hidden ones included, plus `values`)
    without following the redirect; timed as `step`."""
    return timed(
        timings,
        step,
        http.post,
        urljoin(page.url, form.action),
        data={**form.fields, **values},
        allow_redirects=False,
    )


def sign_in_with_code(
    http: requests.Session, app: AppUnderTest, user: BenchUser, timings: dict | None = None
) -> None:
    """The whole flow for a user with MFA, checking each answer; notes user.last_step."""
    code_url = start_sign_in(http, app, user.email, timings)
    page, form = open_code_step(http, code_url, timings)
    if form is None:
        raise FlowError("code page", page, "no code form")
    step = current_step()
    response = submit_code(http, page, form, code_at(user.secret, step), timings)
    user.last_step = step
    if response.status_code not in (302, 303):
        raise FlowError("code", response, "code refused")
    protected = timed(
        timings, "protected page", http.get, app.url(app.protected_path), allow_redirects=False
    )
    if protected.status_code != 200:
        raise FlowError("protected page", protected)


def sign_in_with_passkey(
    http: requests.Session, app: AppUnderTest, user: BenchUser, timings: dict | None = None
) -> None:
    """Firmguard's "Sign in with a passkey", as static/js/passkeys.js does it:
    the options (a challenge for this browser), the assertion, the protected page."""
    from passkey_keys import assertion

    page = timed(timings, "sign-in form", http.get, app.url(app.sign_in_path))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if page.status_code != 200 or token is None:
        raise FlowError("sign-in form", page, "no CSRF token")
    options = timed(
        timings,
        "passkey options",
        http.post,
        app.url("/sign-in/with-passkey/options"),
        headers={"X-CSRFToken": token.group(1)},
    )
    if options.status_code != 200:
        raise FlowError("passkey options", options)
    signed = assertion(user.email, options.json(), app.base_url.rstrip("/"))
    response = timed(
        timings,
        "passkey",
        http.post,
        app.url("/sign-in/with-passkey"),
        data={"csrf_token": token.group(1), "credential": signed},
        allow_redirects=False,
    )
    if response.status_code not in (302, 303):
        raise FlowError("passkey", response, "assertion refused")
    protected = timed(
        timings, "protected page", http.get, app.url(app.protected_path), allow_redirects=False
    )
    if protected.status_code != 200:
        raise FlowError("protected page", protected)
