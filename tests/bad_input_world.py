"""The world the hostile-input tests attack: its people, every form, snapshots
of every table (test_bad_input.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from tests.conftest import sign_in
from tests.hostile import MARKUP
from tests.mfa_support import clock, enable_mfa, password_step, submit_code  # noqa: F401
from tests.step_up_support import confirm_its_you
from webapp.mfa.forms import DIGITS, no_spaces
from webapp.mfa.services import is_recovery_code_shaped
from webapp.models import ListView

ERROR_MARKERS = ('role="alert"', 'class="error"', 'class="flash flash-error"')


class Visitors(dict):
    """Signed-in test clients by role, each signed in when first asked for
    (a sign-in costs a password hash)."""

    def __init__(self, app, code_clock, emails: dict) -> None:
        super().__init__()
        self.app, self.clock, self.emails = app, code_clock, emails

    def __missing__(self, name: str):
        client = self[name] = self.app.test_client()
        if name == "admin":
            assert sign_in(client, self.emails["ann"]).status_code == 302
            confirm_its_you(client)  # the admin forms' own checks are what is tested
        elif name == "mfa":
            password_step(client, self.emails["mia"])
            assert submit_code(client, self.clock.code()).status_code == 302
        elif name == "setup":
            assert sign_in(client, self.emails["ned"]).status_code == 302
            client.post_form("/profile/mfa/setup", token_from="/profile")
        elif name == "pending":
            password_step(client, self.emails["pia"])
        return client


@dataclass
class World:
    """One firm and its visitors, built once per test and shared by its examples."""

    clients: Visitors
    ids: dict
    engine: sa.Engine = field(repr=False)

    def snapshot(self) -> dict:
        """Every row of every table, as the database holds it now."""
        with self.engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(sa.select(table))), key=repr)
                for table in SQLModel.metadata.sorted_tables
            }


@pytest.fixture
def world(app, factory, session, clock):  # noqa: F811 - the clock fixture
    system = factory.system(name="Harbour <b>Law</b>")
    people = {
        "ann": factory.user(system, "ann@harbour.example", "Ann Admin", admin=True),
        "mia": factory.user(system, "mia@harbour.example", "Mia Multi"),
        "ned": factory.user(system, "ned@harbour.example", "Ned New"),
        "pia": factory.user(system, "pia@harbour.example", "Pia Pending"),
    }
    for name in ("mia", "pia"):
        enable_mfa(app, session, people[name])
    view = ListView(
        system_id=system.id, owner_id=people["ann"].id, name="Without MFA", query="mfa=off"
    )
    session.add(view)
    session.commit()
    visitors = Visitors(app, clock, {name: user.email for name, user in people.items()})
    ids = {"ned": people["ned"].id, "view": view.id}
    return World(visitors, ids, app.extensions["firmguard_db"])


def is_code_attempt(value: str) -> bool:
    """Input shaped like a real code is a counted attempt (a change of state by design)."""
    value = no_spaces(value)
    return bool(DIGITS.match(value) and len(value) == 6) or is_recovery_code_shaped(value)


@dataclass(frozen=True)
class Form:
    """A form of the app: who posts it, where, a valid filling, and what it reads."""

    client: str
    path: str
    valid: dict
    fields: tuple
    token_from: str
    codes: tuple = ()
    # Refusals that redirect with a flashed message rather than answer 4xx.
    refusal_redirects: bool = False

    def url(self, ids: dict) -> str:
        return self.path.format(**ids)


FORMS = {
    "edit user": Form(
        "admin",
        "/admin/users/{ned}",
        {"display_name": "Ned New", "role": "user", "active": "y"},
        ("display_name", "role", "active", "mfa_enabled", "accept_billing"),
        "/admin/users",
    ),
    "save view": Form(
        "admin", "/admin/views", {"name": "Mine"}, ("name", "shared", "query"), "/admin/users"
    ),
    "rename view": Form(
        "admin",
        "/admin/views/{view}/rename",
        {"view-{view}-name": "Renamed"},
        ("view-{view}-name",),
        "/admin/users",
        refusal_redirects=True,
    ),
    "delete view": Form("admin", "/admin/views/{view}/delete", {}, (), "/admin/users"),
    "enforcement": Form(
        "admin",
        "/admin/security/enforcement",
        {"grace_days": "7"},
        ("required", "grace_days"),
        "/admin/security",
    ),
    "system settings": Form(
        "admin",
        "/admin/security/system",
        {"country": "NZ", "accounting": "none"},
        ("country", "accounting"),
        "/admin/security",
    ),
    "heads-up": Form(
        "admin",
        "/admin/security/heads-up",
        {"kind": "without_mfa", "hour": "8", "recipients": "all"},
        ("enabled", "kind", "hour", "recipients", "admins", "send_all_clear"),
        "/admin/security",
    ),
    "sign-in code": Form(
        "pending", "/sign-in/verify", {"code": "x"}, ("code",), "/sign-in/verify", ("code",)
    ),
    "sign-in recovery code": Form(
        "pending", "/sign-in/recovery", {"code": "x"}, ("code",), "/sign-in/recovery", ("code",)
    ),
    "setup codes": Form(
        "setup",
        "/profile/mfa/setup/confirm",
        {"first_code": "x", "second_code": "y"},
        ("first_code", "second_code"),
        "/profile/mfa/setup",
        ("first_code", "second_code"),
    ),
    "deactivate": Form(
        "mfa",
        "/profile/mfa/deactivate",
        {"code": "x"},
        ("code",),
        "/profile/mfa/deactivate",
        ("code",),
    ),
    "new recovery codes": Form(
        "mfa",
        "/profile/mfa/recovery-codes",
        {"code": "x"},
        ("code",),
        "/profile/mfa/recovery-codes",
        ("code",),
    ),
    "start setup": Form("setup", "/profile/mfa/setup", {}, (), "/profile"),
    "sign-out": Form("anon", "/sign-out", {}, (), "/sign-in"),
}
FIELD_FORMS = [name for name, form in FORMS.items() if form.fields]


def fill(form: Form, ids: dict, values: dict) -> dict:
    data = {**form.valid, **values}
    return {key.format(**ids): value for key, value in data.items()}


def assert_refusal_explained(response) -> None:
    body = response.get_data(as_text=True)
    assert any(marker in body for marker in ERROR_MARKERS), body[:800]


def assert_no_raw_markup(response) -> None:
    body = response.get_data(as_text=True)
    for fragment in MARKUP:
        assert fragment not in body


def post(world: World, form: Form, data: dict, **kw):
    """Take a snapshot, then post the form as its visitor; (snapshot, response)."""
    client = world.clients[form.client]
    token = client.csrf_token(form.token_from)
    before = world.snapshot()
    response = client.post(form.url(world.ids), data={"csrf_token": token, **data}, **kw)
    return before, response
