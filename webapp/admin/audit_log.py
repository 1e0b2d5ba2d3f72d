"""Admin: the firm's audit log, newest first, a page at a time, and as CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from webapp.audit import Action
from webapp.csv_export import csv_chunks
from webapp.models import AuditEvent, User

AUDIT_PAGE_SIZE = 50
CSV_HEADER = ("Time (UTC)", "Action", "By", "By email", "User", "User email", "Details")


@dataclass(frozen=True)
class AuditPage:
    events: list  # rows of (event, actor name, subject name, subject email)
    older: int | None  # id to continue from, when there are older events


def filters_from(args) -> dict:
    """The log's filters from a query string's `args` (unknown actions ignored)."""
    action = args.get("action", "")
    return {
        "action": action if action in list(Action) else "",
        "user_email": args.get("user", "").strip()[:254],
    }


def audit_query(
    session: Session, system_id: int, *, user_email: str = "", action: str = ""
) -> sa.Select | None:
    """The system's events with the names of whom they concern, filtered by
    the person's email (as actor or subject) and action; None when the email
    is nobody's in this system."""
    actor, subject = aliased(User), aliased(User)
    query = (
        select(
            AuditEvent,
            actor.display_name,
            subject.display_name,
            subject.email,
            actor.email,
        )
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
            return None
        query = query.where(sa.or_(AuditEvent.subject_id == person, AuditEvent.actor_id == person))
    return query


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
    query = audit_query(session, system_id, user_email=user_email, action=action)
    if query is None:
        return AuditPage([], None)
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
    return AuditPage([row[:4] for row in rows[:AUDIT_PAGE_SIZE]], older)


def audit_csv(
    session: Session, system_id: int, *, user_email: str = "", action: str = ""
) -> Iterator[str]:
    """The system's (filtered) audit log as CSV, oldest first, streamed in
    chunks; times in UTC to the second, details as JSON."""
    query = audit_query(session, system_id, user_email=user_email, action=action)
    if query is None:
        return csv_chunks(CSV_HEADER, [])
    result = session.execute(
        query.order_by(AuditEvent.created_at, AuditEvent.id).execution_options(yield_per=1000)
    )
    return csv_chunks(
        CSV_HEADER,
        (
            (
                (
                    event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    event.action,
                    actor_name,
                    actor_email,
                    subject_name,
                    subject_email,
                    json.dumps(event.details, sort_keys=True, ensure_ascii=False)
                    if event.details
                    else "",
                )
                for event, actor_name, subject_name, subject_email, actor_email in partition
            )
            for partition in result.partitions()
        ),
    )
