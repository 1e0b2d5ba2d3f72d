"""Admin tests' world: a firm with an admin and users, its admin signed in, helpers."""

from __future__ import annotations

import re

import pytest

from tests import mfa_support
from tests.conftest import sign_in
from tests.step_up_support import confirm_its_you
from webapp.crypto import hash_recovery_code
from webapp.models import (
    RecoveryCode,
    User,
)

BILLING = "I accept the billing changes and understand the terms of use"


@pytest.fixture
def firm(factory):
    """A firm with an admin (Ann), four users and a second firm's user."""
    system = factory.system(name="Harbour Law")
    people = {
        "ann": factory.user(system, "ann@harbour.example", "Ann Admin", admin=True),
        "zoe": factory.user(system, "zoe@harbour.example", "Zoë Brown"),
        "jose": factory.user(system, "jose@harbour.example", "José Álvarez"),
        "liam": factory.user(system, "liam@harbour.example", "liam chen"),
        "mere": factory.user(system, "mere@harbour.example", "Mere Tūhoe"),
    }
    other = factory.system(name="Other Firm")
    people["outsider"] = factory.user(other, "zoe@other.example", "Zoë Outsider", admin=True)
    people["system"] = system
    return people


@pytest.fixture
def admin_client(client, firm):
    """Ann signed in, with a fresh "Confirm it's you" (sensitive actions go through)."""
    sign_in(client, "ann@harbour.example")
    confirm_its_you(client)
    return client


def enable_mfa(app, session, user_id: int) -> None:
    """MFA as `mfa_support` seeds it, plus a recovery code and a wrong-code count
    (what an admin's reset must clear)."""
    user = session.get(User, user_id)
    mfa_support.enable_mfa(app, session, user, secret="A" * 32, last_used_step=1)
    with app.app_context():
        session.add(RecoveryCode(user_id=user_id, code_hash=hash_recovery_code("abcd-efgh")))
    user.mfa_failed_count = 3
    session.add(user)
    session.commit()


def set_fields(session, user_id: int, **values) -> None:
    user = session.get(User, user_id)
    for name, value in values.items():
        setattr(user, name, value)
    session.add(user)
    session.commit()


def listed_names(response) -> list[str]:
    """The names in the users table, in order (from the results partial or page)."""
    body = response.get_data(as_text=True)
    tbody = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<tr id="user-\d+"[^>]*>\s*<td[^>]*><a [^>]*>([^<]*)</a>', tbody)


def edit_form(user, **overrides) -> dict:
    data = {"display_name": user.display_name, "role": user.role, "active": "y"}
    if user.mfa_enabled:
        data["mfa_enabled"] = "y"
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}
