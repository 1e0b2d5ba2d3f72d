"""Response security headers: a Content-Security-Policy without inline script
or style, no framing, no sniffing, pages never stored by caches, and HSTS in
production; plus the input guards every request passes (no NUL characters, row
ids that fit)."""

from __future__ import annotations

from flask import Flask, Response, abort, current_app, request
from flask_login import current_user
from werkzeug.routing import IntegerConverter

# No inline script or style anywhere: htmx is configured (in base.html) to need
# neither eval nor its injected indicator styles.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# Production only: served behind TLS there, and a browser that saw it keeps
# using https for a year (development runs on plain http://127.0.0.1).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def add_security_headers(response: Response) -> Response:
    """Set the security headers; dynamic pages are never stored by caches."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["ENV_NAME"] == "production":
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.endpoint != "static":
        # Pages carry personal data, secrets during MFA setup, and CSRF tokens.
        response.headers["Cache-Control"] = "no-store"
    return response


# Bodies over MAX_CONTENT_LENGTH (64 KB) are let in only where a file is
# uploaded, and only from a signed-in admin: endpoint → bytes. Twice the file's
# own limit (`import_preview.MAX_FILE_BYTES`, 2 MB), so a file a little too big
# gets the form's clear message rather than a bare 413.
UPLOAD_LIMITS = {"admin.import_users": 2 * 2 * 1024 * 1024}


def allow_uploads() -> None:
    """Raise the body limit for the upload endpoints (before anything reads the
    form; who is signed in comes from the session cookie, not the body)."""
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    if limit is not None and current_user.is_authenticated and current_user.is_admin:
        request.max_content_length = limit


def reject_nul_characters() -> None:
    """Refuse any query or form value holding a NUL character: no input needs
    one, and PostgreSQL cannot store it (the query would fail with a 500).
    """
    for values in (request.args, request.form):
        if any("\x00" in value for _key, value in values.items(multi=True)):
            abort(400, description="The request contained characters that are not allowed.")


# The largest id an INTEGER column holds (PostgreSQL's int4; SQLite's is wider).
MAX_ROW_ID = 2**31 - 1


def ascii_int(value: str) -> int | None:
    """The number `value` spells in plain ASCII digits, else None (`str.isdigit`
    alone also accepts "²" and "١", which `int` then refuses with a 500).
    """
    return int(value) if value.isascii() and value.isdigit() else None


class RowIdConverter(IntegerConverter):
    """`<int:…>` in URLs: only ids a database integer column can hold (larger
    ones would fail in the driver with a 500 rather than match nothing: 404).
    """

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(url_map, *args, **kwargs)


def register_converters(app: Flask) -> None:
    """URL converters; before any route is added (rules bind them when added)."""
    app.url_map.converters["int"] = RowIdConverter


def init_app(app: Flask) -> None:
    app.before_request(reject_nul_characters)
    app.after_request(add_security_headers)
    if app.config.get("SESSION_COOKIE_SECURE"):
        app.config["PREFERRED_URL_SCHEME"] = "https"
