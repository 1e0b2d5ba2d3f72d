"""Helpers shared by the heads-up, reminder and job tests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from webapp import heads_up
from webapp.models import HeadsUpRule, OutboundEmail, Role, System, User

# A compliance reminder's email, for tests that queue one by hand:
# `outbox.queue_email(session, recipient=…, dedupe_key=…, **REMINDER)`.
REMINDER = {
    "kind": "reminder",
    "subject": "Please set up MFA",
    "template": "reminder",
    "system_name": "Kauri & Co",
    "profile_url": "http://127.0.0.1:5000/profile",
    "interval_days": 7,
}


def add_users(
    session: Session, system: System, names: list[str], *, mfa: bool = False, **fields
) -> list[User]:
    """Users straight into the table (no password hashing: these never sign in)."""
    users = []
    for name in names:
        slug = "".join(ch for ch in name.lower() if ch.isalnum()) or "user"
        user = User(
            system_id=system.id,
            email=f"{slug}.{system.id}.{len(users)}@example.com",
            display_name=name,
            password_hash="not-a-hash",
            mfa_enabled=mfa,
            **{"mfa_app": mfa, **fields},  # MFA here is the app unless told otherwise
        )
        user.refresh_search_key()
        session.add(user)
        users.append(user)
    session.commit()
    return users


def add_admin(session: Session, system: System, name: str = "Ada Admin", **fields) -> User:
    return add_users(session, system, [name], role=Role.ADMIN.value, **fields)[0]


def set_rule(session: Session, system: System, **fields) -> HeadsUpRule:
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == system.id)).one()
    for name, value in fields.items():
        setattr(rule, name, value)
    session.add(rule)
    session.commit()
    return rule


def tick(app, session: Session, now: datetime) -> heads_up.RunSummary:
    """What the hourly beat does, with the clock given: find due systems, run them."""
    with app.app_context():
        due = heads_up.due_system_ids(session, now)
        summary = heads_up.RunSummary()
        for batch in heads_up.batches(due):
            summary.add(heads_up.run_systems(session, batch, now))
            session.commit()  # each batch is a task's transaction
        return summary


def outbox(session: Session, kind: str | None = None) -> list[OutboundEmail]:
    """The outbox rows, read afresh (ending any snapshot a worker's writes would miss)."""
    session.rollback()
    session.expire_all()
    query = select(OutboundEmail).order_by(OutboundEmail.id)
    if kind:
        query = query.where(OutboundEmail.kind == kind)
    return list(session.exec(query))
