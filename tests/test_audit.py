"""The audit log's actions: each one defined is recorded somewhere, sign-out included."""

from __future__ import annotations

import ast
from pathlib import Path

from sqlmodel import select

from tests.conftest import sign_in
from webapp.audit import Action
from webapp.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent


def actions_named_in_the_app() -> set[str]:
    """Every `Action.NAME` the app's code (the audit module aside) mentions."""
    named = set()
    for path in ROOT.glob("webapp/**/*.py"):
        if path.name == "audit.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute | ast.Name)
                and (getattr(node.value, "id", None) or getattr(node.value, "attr", None))
                == "Action"
            ):
                named.add(node.attr)
    return named


def test_every_action_is_recorded_somewhere():
    assert {action.name for action in Action} - actions_named_in_the_app() == set()


def test_sign_out_is_recorded(client, factory, session):
    user = factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    client.post_form("/sign-out", token_from="/profile")
    (event,) = session.exec(select(AuditEvent).where(AuditEvent.action == Action.SIGNOUT)).all()
    assert (event.actor_id, event.subject_id, event.system_id) == (user.id, user.id, user.system_id)


def test_the_audit_page_offers_every_action(client, factory):
    system = factory.system()
    factory.user(system, email="ada@example.com", admin=True)
    sign_in(client, "ada@example.com")
    page = client.get("/admin/audit").get_data(as_text=True)
    for action in Action:
        assert f'value="{action.value}"' in page
