"""Step-up for tests: give a "Confirm it's you" proof as a browser does."""

from __future__ import annotations

import re

from tests.conftest import PASSWORD

SELECTED = re.compile(r'<select[^>]* name="(country|accounting)"[^>]*>.*?<option selected value="([^"]*)"', re.S)


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
