"""Page-or-fragment rendering and the one HX-Trigger helper."""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request
from jinja2_fragments.flask import render_block


def wants_fragment() -> bool:
    """True for an htmx request that swaps part of a page.

    Boosted navigation and history restores need the whole page.
    """
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(template: str, block: str | None = None, status: int = 200, **context) -> Response:
    """Render the whole page, or only its `block` when htmx asked for a fragment."""
    if block and wants_fragment():
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    # Fragments and pages share a URL: caches must key on the htmx header.
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str, detail=None) -> Response:
    """Send a client-side event with a successful response (ignored otherwise)."""
    if 200 <= response.status_code < 300:
        events = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
        events[event] = detail if detail is not None else ""
        response.headers["HX-Trigger"] = json.dumps(events)
    return response
