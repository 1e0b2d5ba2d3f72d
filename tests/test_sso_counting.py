"""What a sign-in through the firm's provider counts for, by the firm's
sign-in requirement: the users list (its MFA column, filter and totals), the
heads-up digest, the NZ/AU compliance reminders, and enforcement.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from tests.conftest import sign_in
from tests.heads_up_helpers import add_admin, add_users, outbox, tick
from webapp.crypto import encrypt_secret
from webapp.mfa.enforcement import Requirement, mfa_requirement
from webapp.models import SsoConfig, System, User
from webapp.sso.policy import SsoPolicy

# 09:00 in Auckland (NZDT) on Monday 23 November 2026.
MONDAY_MORNING = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)


def set_sso(app, session, system, requirement: str, **fields) -> None:
    with app.app_context():
        secret = encrypt_secret("a client secret")
    session.add(
        SsoConfig(
            system_id=system.id,
            issuer="https://login.example.test",
            client_id="firmguard",
            client_secret_encrypted=secret,
            requirement=requirement,
            **fields,
        )
    )
    session.commit()


@pytest.fixture
def firm(factory, session):
    """An admin (signs in by password: no MFA), Mia with MFA, Sam and Sue last
    signed in through the provider (Sue's said it checked a second factor), Pat
    by password."""
    system = factory.system("Rimu Law", country="NZ", accounting="xero")
    factory.user(system, email="admin@rimu.test", name="Ari Admin", admin=True)
    add_users(session, system, ["Mia Mfa"], mfa=True)
    add_users(session, system, ["Sam Sso"], last_sign_in_method="sso")
    add_users(session, system, ["Sue Sso"], last_sign_in_method="sso_mfa")
    add_users(session, system, ["Pat Password"], last_sign_in_method="password")
    return system


def listed(client, query: str) -> str:
    return client.get(f"/admin/users?{query}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("requirement", "without", "with_"),
    [
        ("mfa", {"Ari Admin", "Sam Sso", "Sue Sso", "Pat Password"}, {"Mia Mfa"}),
        ("sso_or_mfa", {"Ari Admin", "Pat Password"}, {"Mia Mfa", "Sam Sso", "Sue Sso"}),
    ],
)
def test_the_users_list_counts_sso_by_the_requirement(
    app, client, session, firm, requirement, without, with_
):
    set_sso(app, session, firm, requirement)
    sign_in(client, "admin@rimu.test")
    names = {"Ari Admin", "Mia Mfa", "Sam Sso", "Sue Sso", "Pat Password"}
    off, on = listed(client, "mfa=off"), listed(client, "mfa=on")
    assert {name for name in names if f">{name}</a></td>" in off} == without
    assert {name for name in names if f">{name}</a></td>" in on} == with_
    everyone = listed(client, "")
    assert f"{len(without)} of 5 active users without MFA" in everyone
    sam_row = everyone.split(">Sam Sso</a>")[1].split("</tr>")[0]
    assert ">SSO</span>" in sam_row
    assert ('aria-label="MFA not enabled"' in sam_row) == (requirement == "mfa")


def test_the_digest_counts_sso_by_the_requirement(app, session, factory):
    counted = factory.system("Counts Sso", country="NZ")
    not_counted = factory.system("Counts Mfa Only", country="NZ")
    for system, requirement in ((counted, "sso_or_mfa"), (not_counted, "mfa")):
        set_sso(app, session, system, requirement)
        add_admin(session, system, "Ada Admin", mfa=True)
        add_users(session, system, ["Sam Sso"], last_sign_in_method="sso")
        add_users(session, system, ["Pat Password"])
    tick(app, session, MONDAY_MORNING)
    bodies = {row.system_id: row.body_text for row in outbox(session, "heads_up")}
    assert "1 of 3 active users of Counts Sso do not have" in bodies[counted.id]
    assert "Sam Sso" not in bodies[counted.id]
    assert "2 of 3 active users of Counts Mfa Only do not have" in bodies[not_counted.id]
    assert "Sam Sso" in bodies[not_counted.id]


@pytest.mark.parametrize(
    ("requirement", "acknowledged", "reminded"),
    [
        ("mfa", False, {"Ari Admin", "Sam Sso", "Sue Sso", "Pat Password"}),
        # The compliance rule wants the provider's word for MFA (Sue's amr) ...
        ("sso_or_mfa", False, {"Ari Admin", "Sam Sso", "Pat Password"}),
        # ... or the admin's acknowledgement that the provider enforces it.
        ("sso_or_mfa", True, {"Ari Admin", "Pat Password"}),
    ],
)
def test_compliance_counts_sso_only_with_the_providers_word_for_mfa(
    app, session, firm, requirement, acknowledged, reminded
):
    set_sso(app, session, firm, requirement, provider_enforces_mfa=acknowledged)
    tick(app, session, MONDAY_MORNING)
    names = {
        user.email: user.display_name
        for user in session.exec(select(User).where(User.system_id == firm.id))
    }
    assert {names[row.recipient] for row in outbox(session, "reminder")} == reminded


@pytest.mark.parametrize(
    ("requirement", "method", "acknowledged", "expected"),
    [
        ("mfa", "sso_mfa", False, Requirement.MUST_ENROL),
        ("sso_or_mfa", "password", False, Requirement.MUST_ENROL),
        ("sso_or_mfa", "sso", False, Requirement.PROMPT_COMPLIANCE),
        ("sso_or_mfa", "sso", True, Requirement.NONE),
        ("sso_only", "sso_mfa", False, Requirement.NONE),
    ],
)
def test_enforcement_counts_an_sso_session_by_the_requirement(
    requirement, method, acknowledged, expected
):
    system = System(name="Rimu", country="NZ", timezone="Pacific/Auckland", accounting_link="xero")
    system.mfa_required = True
    user = User(system_id=1, email="sam@rimu.test", display_name="Sam", password_hash="x")
    policy = SsoPolicy(requirement=requirement, provider_enforces_mfa=acknowledged)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    assert mfa_requirement(user, system, now, policy.coverage(method)) is expected
