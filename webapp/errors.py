"""Error pages: whole pages for browsers, the main block for htmx requests."""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.extensions import db
from webapp.htmx import render_page, wants_fragment
from webapp.scim.errors import error_response, is_scim_request

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood. Please check what you entered and try again.",
    403: "You do not have permission to see this page.",
    404: "That page does not exist, or you cannot see it.",
    405: "That action is not allowed here.",
    413: "The request was too large.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side. Please try again.",
}


CSRF_MESSAGE = "Your form expired or was not sent from this site. Reload the page and try again."


def render_error(error: HTTPException):
    """Render the error page (or its content block for htmx, swapped into <main>).

    The request raised, so what it did is undone first (`Database.fail_request`).
    """
    db.fail_request()
    code = error.code or 500
    if is_scim_request(request.path):
        # The SCIM API answers in SCIM's JSON, even the app's own 405 or 413.
        return error_response(code, error.description or MESSAGES.get(code, ""))
    message = MESSAGES.get(code, error.description)
    if isinstance(error, CSRFError):
        message = CSRF_MESSAGE
    response = render_page(
        "errors/error.html", block="content", status=code, code=code, message=message
    )
    if wants_fragment():
        response.headers["HX-Retarget"] = "#main"
        response.headers["HX-Reswap"] = "innerHTML"
    return response


# Served when even the error page cannot render (e.g. the database is down
# and the toolbar cannot load the signed-in user): no template, no database.
BARE_500 = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>500 · Firmguard</title>'
    f'</head><body><main id="main"><h1>500</h1><p>{MESSAGES[500]}</p></main></body></html>'
)


def render_unexpected(error: Exception):
    log.exception("unhandled error", exc_info=error)
    try:
        return render_error(InternalServerError())
    except Exception:  # noqa: BLE001 - the page itself failed; answer without it
        log.exception("error page failed to render")
        return Response(BARE_500, status=500, mimetype="text/html")


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_unexpected)
