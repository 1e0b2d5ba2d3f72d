"""Step-up for tests: give a "Confirm it's you" proof as a browser does."""

from __future__ import annotations

import html
import re

from werkzeug.datastructures import MultiDict

from tests.conftest import PASSWORD

CONFIRM = "Confirm it's you"
FORM = re.compile(r'<form method="post" action="([^"]+)"')
# A field the prompt sends as shown (not the passkey's: disabled until filled).
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
SELECTED = re.compile(
    r'<select[^>]* name="(country|accounting)"[^>]*>.*?<option selected value="([^"]*)"', re.S
)


def confirm_its_you(client, *, password: str | None = PASSWORD, code: str | None = None):
    """Prove it's the signed-in admin (their password, or `code`) through
    "Save country and accounting" with the firm's own values, which changes
    nothing; the proof then lets sensitive actions through for 10 minutes."""
    page = client.get("/admin/security").get_data(as_text=True)
    data = dict(SELECTED.findall(page))
    assert set(data) == {"country", "accounting"}, "not on the Security settings page"
    if code is not None:
        data["code"] = code
    else:
        data["current_password"] = password
    response = client.post_form("/admin/security/system", data, token_from="/admin/security")
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def answer(client, prompt, headers=None, **proof):
    """Fill in the "Confirm it's you" step as shown, and send it."""
    body = prompt.get_data(as_text=True)
    assert CONFIRM in body
    step = body.split('<div class="step-up">', 1)[1]
    data = MultiDict([(html.unescape(n), html.unescape(v)) for n, v in HIDDEN.findall(step)])
    for name, value in proof.items():
        data[name] = value
    return client.post(html.unescape(FORM.search(step).group(1)), data=data, headers=headers or {})
