"""Password tests: the clock the app sees, and helpers for the reset link."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from tests import mfa_support
from webapp.models import AuditEvent, OutboundEmail

clock = mfa_support.clock  # the fixture, for every test here

NEW_PASSWORD = "a brand new kererū passphrase"  # noqa: S105
RESET_LINK = re.compile(r"(/password/reset/[A-Za-z0-9_-]+)")


def emails(session, kind: str, recipient: str | None = None) -> list[OutboundEmail]:
    session.expire_all()
    query = select(OutboundEmail).where(OutboundEmail.kind == kind)
    if recipient:
        query = query.where(OutboundEmail.recipient == recipient)
    return list(session.exec(query.order_by(OutboundEmail.id)))


def actions(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def ask_for_link(client, email: str, **kw):
    return client.post_form(
        "/password/forgot", {"email": email}, token_from="/password/forgot", **kw
    )


def reset_path(email: OutboundEmail) -> str:
    return RESET_LINK.search(email.body_text).group(1)


def set_new_password(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    """Open the emailed link, then "Set password" on the page it leads to."""
    opened = client.get(path)
    assert opened.status_code == 302
    if opened.headers["Location"] != "/password/set":
        return opened
    return client.post_form(
        "/password/set",
        {"new_password": password, "confirm_password": confirm or password},
        token_from="/password/set",
    )


@pytest.fixture
def app_overrides() -> dict:
    # The per-account password lock and wrong-current-password counts are part of the rules here.
    return {"RATELIMIT_ENABLED": True}
