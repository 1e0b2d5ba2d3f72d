"""Hostile input to every form and query parameter of the app.

Whatever arrives — wrong codes, odd emails and names, SQL and HTML fragments,
forged CSRF tokens, huge bodies, invalid UTF-8 — the app never answers 500,
a refused request changes no row, the answer says what was wrong, and user
data only ever comes back escaped. (The sign-in form: test_bad_input_signin.py;
who may reach which route: test_route_rules.py.)
"""

from __future__ import annotations

import re
from urllib.parse import quote_from_bytes

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from markupsafe import escape

from tests import bad_input_world
from tests.bad_input_world import (
    FIELD_FORMS,
    FORMS,
    assert_no_raw_markup,
    assert_refusal_explained,
    fill,
    is_code_attempt,
    post,
)
from tests.conftest import PASSWORD, sign_in
from tests.hostile import HOSTILE, MANY_CASES, PER_CASE
from tests.mfa_support import clock, enable_mfa, password_step, submit_code  # noqa: F401

world = bad_input_world.world  # the fixture, under its own name


@pytest.mark.parametrize("form_name", FIELD_FORMS)
@PER_CASE
@given(data=st.data())
def test_every_form_field_survives_hostile_text(world, form_name, data):
    form = FORMS[form_name]
    names = data.draw(st.sets(st.sampled_from(form.fields), min_size=1))
    values = {name: data.draw(HOSTILE, label=name) for name in names}
    # A well-formed code is an attempt that counts, however wrong.
    assume(not any(is_code_attempt(values.get(name, "")) for name in form.codes))
    hx = data.draw(st.booleans(), label="htmx")
    before, response = post(
        world, form, fill(form, world.ids, values), headers={"HX-Request": "true"} if hx else {}
    )
    status = response.status_code
    assert status < 500, response.get_data(as_text=True)[:800]
    assert_no_raw_markup(response)
    if form.refusal_redirects and status == 302:
        # The flashed message says whether it was done; only a refusal leaves rows as they were.
        page = world.clients[form.client].get(response.headers["Location"])
        if "Renamed the view" not in page.get_data(as_text=True):
            assert_refusal_explained(page)
            assert world.snapshot() == before
        return
    if status >= 400:
        assert world.snapshot() == before
        assert_refusal_explained(response)
    else:
        assert status in (200, 302)


@MANY_CASES
@given(
    form_name=st.sampled_from(list(FORMS)),
    token=st.one_of(st.none(), HOSTILE, st.text(alphabet="abcdef0123456789.-_", max_size=120)),
)
def test_forged_or_missing_csrf_token_is_refused_and_changes_nothing(world, form_name, token):
    form = FORMS[form_name]
    client = world.clients[form.client]
    data = fill(form, world.ids, {})
    if token is not None:
        data["csrf_token"] = token
    before = world.snapshot()
    response = client.post(form.url(world.ids), data=data)
    assert response.status_code == 400
    assert "Your form expired or was not sent from this site" in response.get_data(as_text=True)
    assert world.snapshot() == before


def test_huge_body_is_refused_and_changes_nothing(world):
    for form_name, form in FORMS.items():
        name = form.fields[0] if form.fields else "padding"
        before, response = post(world, form, fill(form, world.ids, {name: "x" * 100_000}))
        assert response.status_code == 413, form_name
        assert "The request was too large." in response.get_data(as_text=True)
        assert world.snapshot() == before, form_name


@MANY_CASES
@given(form_name=st.sampled_from(FIELD_FORMS), raw=st.binary(min_size=1, max_size=200))
def test_invalid_utf8_in_a_form_never_fails(world, form_name, raw):
    form = FORMS[form_name]
    client = world.clients[form.client]
    data = fill(form, world.ids, {})
    name = form.fields[0].format(**world.ids)
    data.pop(name, None)
    body = "&".join(f"{key}={value}" for key, value in data.items()).encode()
    body += b"&csrf_token=" + client.csrf_token(form.token_from).encode()
    body += b"&" + name.encode() + b"=" + raw
    before = world.snapshot()
    response = client.post(
        form.url(world.ids), data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500, response.get_data(as_text=True)[:800]
    if response.status_code >= 400:
        assert world.snapshot() == before
        assert_refusal_explained(response)


# --- Query parameters and ids ---------------------------------------------------------

QUERIES = {
    "/admin/users": ("admin", ("q", "mfa", "role", "active", "sort", "dir", "page", "view")),
    "/admin/users.csv": ("admin", ("q", "mfa", "role", "active", "sort", "dir", "page")),
    "/admin/audit": ("admin", ("action", "user", "before")),
    "/admin/security": ("admin", ()),
    "/profile": ("mfa", ()),
    "/profile/mfa/setup": ("setup", ("show",)),
    "/profile/mfa/deactivate": ("mfa", ()),
    "/profile/mfa/recovery-codes": ("mfa", ()),
    "/mfa/prompt": ("mfa", ("next",)),
    "/sign-in": ("anon", ("next",)),
    "/sign-in/verify": ("pending", ()),
    "/sign-in/recovery": ("pending", ()),
}
PARAMETER_VALUES = st.one_of(
    HOSTILE,
    st.sampled_from(["desc", "asc", "on", "off", "yes", "no", "admin", "user", "secret"]),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["//evil.example", "https://evil.example/", "/\\evil.example", "javascript:1"]),
)


@pytest.mark.parametrize("path", list(QUERIES))
@PER_CASE
@given(data=st.data())
def test_query_parameters_never_fail_or_change_state(world, path, data):
    client_name, names = QUERIES[path]
    # Every page also meets parameters it does not read.
    names = (*names, "page", "sort", "id")
    params = data.draw(st.dictionaries(st.sampled_from(names), PARAMETER_VALUES, max_size=4))
    params = {name: value for name, value in params.items() if "\x00" not in value}
    hx = data.draw(st.booleans(), label="htmx")
    client = world.clients[client_name]
    before = world.snapshot()
    response = client.get(path, query_string=params, headers={"HX-Request": "true"} if hx else {})
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:800]
    if response.status_code == 302:
        # Never off the site, whatever `next` or `view` said.
        assert response.headers["Location"].startswith("/")
        assert not response.headers["Location"].startswith(("//", "/\\"))
    assert_no_raw_markup(response)
    assert world.snapshot() == before


@MANY_CASES
@given(
    path=st.sampled_from(["/admin/users", "/admin/users.csv", "/admin/audit", "/profile"]),
    raw=st.binary(max_size=200),
)
def test_invalid_utf8_and_nul_in_a_query_string_never_fail(world, path, raw):
    client = world.clients["mfa" if path == "/profile" else "admin"]
    before = world.snapshot()
    value = quote_from_bytes(raw)
    response = client.get(path, query_string=f"q={value}&user={value}&page={value}")
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:800]
    if response.status_code == 400:
        assert_refusal_explained(response)
    assert world.snapshot() == before


@MANY_CASES
@given(
    template=st.sampled_from(
        ["/admin/users/{id}", "/admin/views/{id}/rename", "/admin/views/{id}/delete"]
    ),
    # The world holds a handful of rows, so 0 and ids from 1000 up name nothing.
    user_id=st.one_of(
        st.just(0),
        st.integers(1000, 10**30),
        st.sampled_from(["-1", "1.5", "1e3", "%2e"]),
    ),
)
def test_ids_of_nothing_are_404_and_change_nothing(world, template, user_id):
    client = world.clients["admin"]
    path = template.format(id=user_id)
    before = world.snapshot()
    if template.endswith("}"):
        response = client.get(path)
    else:
        response = client.post(path, data={"csrf_token": client.csrf_token("/admin/users")})
    assert response.status_code == 404
    assert "That page does not exist" in response.get_data(as_text=True)
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users?page=%C2%B2",  # "²" passes str.isdigit but not int()
        "/admin/users.csv?page=%D9%A3",
        "/admin/audit?before=%C2%B2",
        "/admin/audit?before=99999999999999999999",
        "/admin/users/99999999999999999999",
        "/admin/users?q=x",
    ],
)
def test_numbers_no_column_holds_are_ignored_or_not_found(world, path):
    response = world.clients["admin"].get(path, headers={"HX-Request": "true"})
    assert response.status_code in (200, 404)


# --- Escaping ---------------------------------------------------------------------------

NAMES = ["<img src=x onerror=alert(1)>", '"><script>alert(2)</script>']


def test_every_page_showing_user_data_escapes_it(app, factory, session, mailbox):
    system = factory.system(name='Firm "><script>alert(3)</script>')
    admin = factory.user(system, "ann@harbour.example", NAMES[0], admin=True)
    other = factory.user(system, "bob@harbour.example", NAMES[1])
    enable_mfa(app, session, other)
    client = app.test_client()
    assert sign_in(client, admin.email).status_code == 302

    # An MFA reset: audited with the user's name, and emailed. "Confirm it's
    # you" first, which carries the fields (the name too) as it must: escaped.
    reset = {"display_name": NAMES[1], "role": "user", "active": "y", "accept_billing": "y"}
    prompt = client.post_form(
        f"/admin/users/{other.id}", reset, token_from=f"/admin/users/{other.id}"
    )
    assert "Confirm it's you" in prompt.get_data(as_text=True)
    assert NAMES[1] not in prompt.get_data(as_text=True)
    response = client.post_form(
        f"/admin/users/{other.id}",
        {**reset, "current_password": PASSWORD},
        token_from=f"/admin/users/{other.id}",
    )
    assert response.status_code == 302
    client.post_form(
        "/admin/views", {"name": NAMES[0], "query": "q=<b>"}, token_from="/admin/users"
    )

    pages = [
        "/profile",
        f"/admin/users/{other.id}",
        "/admin/users",
        "/admin/users?q=%3Cimg",
        "/admin/security",
        "/admin/audit",
        "/admin/audit?user=%3Cimg+src%3Dx+onerror%3Dalert(1)%3E",
    ]
    for path in pages:
        for headers in ({}, {"HX-Request": "true"}):
            body = client.get(path, headers=headers).get_data(as_text=True)
            assert "<script>alert(3)" not in body, path
            for name in NAMES:
                assert name not in body, path
    body = client.get("/admin/users").get_data(as_text=True)
    assert str(escape(NAMES[0])) in body and str(escape(NAMES[1])) in body

    csv_text = client.get("/admin/users.csv").get_data(as_text=True)
    assert NAMES[0] in csv_text  # plain text, not HTML: shown as typed

    mails = mailbox()
    assert mails
    for mail in mails:
        html_part = mail.get_body(preferencelist=("html",))
        if html_part is not None:
            content = html_part.get_content()
            for name in NAMES:
                assert name not in content
            assert "<script>alert(3)" not in content


def test_sql_fragments_in_search_are_text(app, factory, world):
    """A search for SQL syntax or LIKE wildcards matches literally, never everyone."""
    client = world.clients["admin"]
    for needle in ("%", "_", "' OR '1'='1", "\\"):
        body = client.get("/admin/users", query_string={"q": needle}).get_data(as_text=True)
        results = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
        assert not re.search(r"Ann Admin|Mia Multi|Ned New", results), needle
