"""Dialogs: the help article's "windows" (setup, Deactivate, Edit user …).

A dialog template wraps its content in the `dialog` macro of `_macros.html`
and names two blocks: `dialog` (the whole `<dialog>`) and, inside it,
`dialog_body`. Opened by htmx, the route answers with the `dialog` block,
which static/js/app.js shows as a modal; a form inside the dialog targets
`#<id>-body` and gets only `dialog_body` back; without JavaScript the same
URL is a whole page. When the dialog's action has succeeded, `close_dialog`
closes it and updates the page around it. README, "Dialogs, pages and emails",
shows a new dialog end to end.
"""

from __future__ import annotations

import json

from flask import Response, make_response, render_template, request

from webapp.htmx import render_page, wants_fragment

# The client-side event that closes the open dialog (static/js/app.js).
CLOSE_EVENT = "closeDialog"


def dialog_block(dialog_id: str) -> str:
    """Which block of the dialog's template this request needs: the body when a
    form inside the open dialog asked (it targets `#<id>-body`), else the dialog."""
    if wants_fragment() and request.headers.get("HX-Target") == f"{dialog_id}-body":
        return "dialog_body"
    return "dialog"


def render_dialog(template: str, dialog_id: str, status: int = 200, **context) -> Response:
    """The dialog as a page, as a dialog to open, or its body to swap in place."""
    return render_page(template, block=dialog_block(dialog_id), status=status, **context)


def close_dialog(message: str | None = None, parts: tuple[str, ...] = ()) -> Response:
    """After a dialog's action succeeded (an htmx request): close the dialog,
    replace the page elements in `parts` (rendered with `hx-swap-oob`), and
    show `message` in the page's live region. Focus returns to the opener.
    """
    body = render_template("_dialog_closed.html", message=message, parts=parts)
    response = make_response(body)
    # Nothing goes into the dialog itself (the form that asked stays in place
    # until the dialog closes); out-of-band parts are still swapped.
    response.headers["HX-Reswap"] = "none"
    response.headers["HX-Trigger-After-Settle"] = json.dumps({CLOSE_EVENT: ""})
    response.vary.add("HX-Request")
    return response
