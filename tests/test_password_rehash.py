"""Raising the argon2 cost in config reaches every account: a stored hash made
with older parameters is re-made at the user's next right password (sign-in,
or the password given as a step-up proof), never at a wrong one."""

from __future__ import annotations

from tests.conftest import PASSWORD, sign_in
from tests.step_up_support import confirm_its_you
from webapp.models import User

OLD_PARAMS = "m=1024,t=1,p=1"
NEW_PARAMS = "m=2048,t=2,p=1"


def stored_hash(session, user) -> str:
    session.expire_all()
    return session.get(User, user.id).password_hash


def raise_the_cost(app) -> None:
    app.config.update(ARGON2_TIME_COST=2, ARGON2_MEMORY_COST=2048)


def test_a_right_password_at_sign_in_rehashes_an_old_hash(app, client, factory, session):
    user = factory.user(email="ana@kauri.example")
    assert OLD_PARAMS in stored_hash(session, user)
    raise_the_cost(app)

    assert sign_in(client, "ana@kauri.example", "not the password").status_code == 422
    assert OLD_PARAMS in stored_hash(session, user)  # a wrong password changes nothing

    assert sign_in(client, "ana@kauri.example").status_code == 302
    assert NEW_PARAMS in stored_hash(session, user)
    client.post_form("/sign-out", token_from="/profile")
    assert sign_in(app.test_client(), "ana@kauri.example").status_code == 302  # still right


def test_the_step_up_password_rehashes_an_old_hash(app, client, factory, session):
    admin = factory.user(email="aroha@kauri.example", admin=True)
    assert sign_in(client, "aroha@kauri.example").status_code == 302
    raise_the_cost(app)
    assert OLD_PARAMS in stored_hash(session, admin)

    confirm_its_you(client, password=PASSWORD)
    assert NEW_PARAMS in stored_hash(session, admin)
