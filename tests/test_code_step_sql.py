"""The sign-in code step is one transaction of a few statements, and stays so.

The rules it needs: read the pending sign-in with its user and credential
(one query), count the attempt, claim the code's time-step (or mark the
recovery code used), use the pending sign-in up, then write the sign-in (the
user's row once: last sign-in and the cleared count) and its audit event.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.mfa_support import enable_mfa, password_step
from tests.sql_counting import recorded_sql
from webapp.mfa import services
from webapp.models import RecoveryCode, User

clock = mfa_support.clock  # the fixture, under its own name

# Ceilings: a change that adds a statement to a sign-in must lower another.
# (One each for the browser session's row, which a sign-in must write; one
# each for the new sign-in notice's lookup of the browser and address pair,
# here the first sign-in's INSERT of it in place of that SELECT.)
VERIFY_STATEMENTS = 8
RECOVERY_STATEMENTS = 10


@pytest.fixture
def ann(app, factory, session):
    user = factory.user(email="ann@example.com")
    enable_mfa(app, session, user)
    return user


def post_code(client, path: str, code: str, app):
    token = client.csrf_token(path)
    with recorded_sql(app) as sql:
        response = client.post(path, data={"code": code, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/profile"
    return sql


def test_a_right_code_is_one_commit_of_eight_statements(app, client, ann, clock, session):
    password_step(client, "ann@example.com")
    sql = post_code(client, "/sign-in/verify", clock.code(), app)
    assert sql.commits == 1
    assert len(sql.statements) <= VERIFY_STATEMENTS, "\n".join(sql.statements)
    # One write of the user's row: the cleared count and the last sign-in together.
    assert sum(s.startswith("UPDATE users") for s in sql.statements) == 2  # count, sign-in
    row = session.get(User, ann.id)
    assert (row.mfa_failed_count, row.last_sign_in_at is not None) == (0, True)


def test_a_recovery_code_is_one_commit_too(app, client, ann, clock, session):
    with app.app_context():
        codes = services.replace_recovery_codes(session, session.get(User, ann.id), clock.now)
    session.commit()
    password_step(client, "ann@example.com")
    sql = post_code(client, "/sign-in/recovery", codes[0], app)
    assert sql.commits == 1
    assert len(sql.statements) <= RECOVERY_STATEMENTS, "\n".join(sql.statements)
    used = session.exec(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1
