"""Admin: the firm's audit log, newest first, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from webapp.models import AuditEvent, User

AUDIT_PAGE_SIZE = 50


@dataclass(frozen=True)
class AuditPage:
    events: list  # rows of (event, actor name, subject name, subject email)
    older: int | None  # id to continue from, when there are older events


def audit_events(
    session: Session,
    system_id: int,
    *,
    user_email: str = "",
    action: str = "",
    before: int | None = None,
) -> AuditPage:
    """The system's audit events, newest first, a page at a time (keyset on
    (created_at, id), so deep pages cost the same as the first)."""
    actor, subject = aliased(User), aliased(User)
    query = (
        select(AuditEvent, actor.display_name, subject.display_name, subject.email)
        .outerjoin(actor, actor.id == AuditEvent.actor_id)
        .outerjoin(subject, subject.id == AuditEvent.subject_id)
        .where(AuditEvent.system_id == system_id)
    )
    if action:
        query = query.where(AuditEvent.action == action)
    if user_email:
        person = session.exec(
            select(User.id).where(User.system_id == system_id, User.email == user_email.lower())
        ).first()
        if person is None:
            return AuditPage([], None)
        query = query.where(sa.or_(AuditEvent.subject_id == person, AuditEvent.actor_id == person))
    if before is not None:
        anchor = session.get(AuditEvent, before)
        if anchor is not None and anchor.system_id == system_id:
            query = query.where(
                sa.tuple_(AuditEvent.created_at, AuditEvent.id)
                < sa.tuple_(
                    sa.literal(anchor.created_at, AuditEvent.created_at.type),
                    sa.literal(anchor.id),
                )
            )
    rows = session.exec(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(
            AUDIT_PAGE_SIZE + 1
        )
    ).all()
    older = rows[AUDIT_PAGE_SIZE - 1][0].id if len(rows) > AUDIT_PAGE_SIZE else None
    return AuditPage(rows[:AUDIT_PAGE_SIZE], older)
