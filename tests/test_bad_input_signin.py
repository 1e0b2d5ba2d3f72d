"""Hostile input to the sign-in form: never a 500, never a session, always a message."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import sign_in
from tests.hostile import HOSTILE, PROFILE


@PROFILE
@given(email=HOSTILE, password=HOSTILE)
def test_sign_in_never_fails_on_hostile_text(client, factory, email, password):
    response = sign_in(client, email, password)
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 413, 422), body[:500]
    if response.status_code != 413:
        # A form-level or field-level message says what was wrong.
        assert 'role="alert"' in body or 'class="error"' in body
        assert "<script>alert(1)</script>" not in body
    assert client.get("/profile").status_code == 302


@PROFILE
@given(raw=st.binary(max_size=200))
def test_sign_in_survives_invalid_utf8(client, raw):
    token = client.csrf_token()
    response = client.post(
        "/sign-in",
        data=b"csrf_token=" + token.encode() + b"&email=" + raw + b"&password=" + raw,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (400, 422)
