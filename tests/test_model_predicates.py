"""The shared rules on users and systems say the same on a row as in a query."""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa

from tests.heads_up_helpers import add_users
from webapp.models import AccountingLink, Role, System, User


@pytest.mark.parametrize("predicate", ["active_admin", "active_without_mfa", "active_with_mfa"])
def test_user_rules_agree_in_python_and_sql(factory, session, predicate):
    system = factory.system()
    combos = list(
        itertools.product([Role.ADMIN.value, Role.USER.value], [True, False], [True, False])
    )
    for number, (role, active, mfa) in enumerate(combos):
        add_users(session, system, [f"Person {number}"], role=role, active=active, mfa=mfa)
    users = session.exec(sa.select(User).where(User.system_id == system.id)).scalars().all()
    in_python = {user.id for user in users if getattr(user, predicate)}
    in_sql = set(session.scalars(sa.select(User.id).where(getattr(User, predicate))))
    assert in_python == in_sql
    assert 0 < len(in_sql) < len(combos)


def test_the_compliance_rule_agrees_in_python_and_sql(factory, session):
    for country, link in itertools.product(["NZ", "AU", "GB"], list(AccountingLink)):
        factory.system(f"{country} {link.value}", country=country, accounting=link.value)
    systems = session.exec(sa.select(System)).scalars().all()
    in_python = {system.name for system in systems if system.compliance_required}
    in_sql = set(session.scalars(sa.select(System.name).where(System.compliance_required)))
    assert in_python == in_sql == {"NZ xero", "NZ other", "AU xero", "AU other"}
