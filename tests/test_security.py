"""Response headers, escaping, error pages, limits."""

from __future__ import annotations

from tests.conftest import sign_in


def test_security_headers_on_every_page(client):
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_carry_no_inline_script_or_style(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    for path in ("/sign-in", "/profile"):
        body = client.get(path).get_data(as_text=True)
        assert "<script>" not in body and "style=" not in body and "hx-on" not in body


def test_htmx_is_served_locally_and_configured_for_the_csp(client):
    body = client.get("/sign-in").get_data(as_text=True)
    assert '<script src="/static/vendor/htmx/htmx.min.js" defer></script>' in body
    assert '"includeIndicatorStyles": false, "allowEval": false' in body
    with client.get("/static/vendor/htmx/htmx.min.js") as response:
        assert response.status_code == 200
        assert b"htmx" in response.data


def test_csrf_token_is_sent_by_htmx_from_body(client):
    body = client.get("/sign-in").get_data(as_text=True)
    assert '<body hx-headers=\'{"X-CSRFToken": "' in body


def test_user_name_with_script_is_escaped(client, factory):
    factory.user(email="x@example.com", name="<script>alert(1)</script>")
    sign_in(client, "x@example.com")
    body = client.get("/profile").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_unknown_page_is_a_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "That page does not exist" in response.get_data(as_text=True)


def test_htmx_error_is_retargeted_to_main(client):
    response = client.get("/no/such/page", headers={"HX-Request": "true"})
    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#main"
    assert "<html" not in response.get_data(as_text=True)


def test_huge_body_is_refused(client):
    response = client.post("/sign-in", data={"email": "a" * 200_000, "password": "x"})
    assert response.status_code == 413


def test_get_sign_out_does_not_sign_out(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    assert client.get("/sign-out").status_code == 405
    assert client.get("/profile").status_code == 200


def test_non_admin_gets_403_on_admin_pages(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    assert client.get("/admin/users").status_code == 403


def test_anonymous_is_sent_to_sign_in_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Fadmin%2Fusers"


def test_fields_carry_no_empty_aria_attributes(client):
    body = client.get("/sign-in").get_data(as_text=True)
    assert '="None"' not in body
    assert 'autocomplete="username"' in body
