"""Users & permissions → "Import users", the second step: keep the preview
(`webapp.admin.import_preview`), then "Send invitations" carries it out once.

The preview's new rows and rows to deactivate are kept server-side for an
hour (`UserImport`), so "Send invitations" needs no second upload and does
exactly what the admin saw. Sending (`send`) creates the users, their links,
their emails and their audit events 500 at a time, a few statements per
batch; a row whose email was taken since the preview is skipped and named,
and never stops the others. Deactivations (the file's `active` column saying
No) are offboarding as in Edit user (`webapp.offboarding.end_access`), looked
up 500 at a time and carried out one user at a time (each must keep the firm's
last active admin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from webapp import audit, outbox
from webapp.accounts import FieldError
from webapp.admin.import_preview import BATCH_SIZE, Preview, Result, taken_emails
from webapp.admin.invitations import (
    INVITATION_TTL,
    firm_sso,
    inserted,
    invitation_email,
    new_invited_user,
)
from webapp.admin.models import UserImport
from webapp.admin.user_edit import stop_being_admin
from webapp.audit import Action
from webapp.models import PasswordToken, System, User
from webapp.offboarding import end_access
from webapp.passwords import tokens
from webapp.passwords.tokens import Purpose
from webapp.single_use import claim_once

KEPT_FOR = timedelta(hours=1)
SPENT = "This import was already sent, or is over an hour old: upload the file again."
INVITE, DEACTIVATE = "invite", "deactivate"


def keep(session: Session, admin: User, found: Preview, now: datetime) -> UserImport:
    """Keep the preview's new rows and rows to deactivate for "Send invitations" (an hour)."""
    kept = UserImport(
        system_id=admin.system_id,
        admin_id=admin.id,
        rows=[[INVITE, row.email, row.display_name, row.role] for row in found.rows_of(Result.NEW)]
        + [[DEACTIVATE, row.email] for row in found.rows_of(Result.DEACTIVATE)],
        created_at=now,
        expires_at=now + KEPT_FOR,
    )
    session.add(kept)
    session.flush()
    return kept


def firm_import(session: Session, admin: User, import_id: int) -> UserImport | None:
    """The import with this id if this admin previewed it (another admin's, or
    another firm's, is not found: what is sent is what its sender saw)."""
    kept = session.get(UserImport, import_id)
    if kept is None or kept.system_id != admin.system_id or kept.admin_id != admin.id:
        return None
    return kept


def kept_import(session: Session, admin: User, import_id: int, now: datetime) -> UserImport | None:
    """The admin's firm's import with this id, if not sent yet and still kept."""
    kept = firm_import(session, admin, import_id)
    if kept is None or kept.consumed_at is not None or kept.expires_at <= now:
        return None
    return kept


@dataclass
class Sent:
    invited: int = 0
    deactivated: int = 0
    skipped: list[str] = field(default_factory=list)  # "email (why)", changed since the preview


def send(session: Session, admin: User, import_id: int, now: datetime) -> Sent:
    """Carry out the import (once: of two clicks, one does it)."""
    table = UserImport.__table__
    mine = (
        table.c.id == import_id,
        table.c.system_id == admin.system_id,
        table.c.admin_id == admin.id,
    )
    if not claim_once(session, table, *mine, now=now):
        raise FieldError("import", SPENT)
    rows = session.execute(sa.select(table.c.rows).where(table.c.id == import_id)).scalar_one()
    system = session.get(System, admin.system_id)
    sent = Sent()
    invites = [row[1:] for row in rows if row[0] == INVITE]
    if invites:
        sso = firm_sso(session, system.id)  # once for the import, not per row
        for start in range(0, len(invites), BATCH_SIZE):
            _invite(session, admin, system, invites[start : start + BATCH_SIZE], now, sso, sent)
    _deactivate(session, admin, [row[1] for row in rows if row[0] == DEACTIVATE], now, sent)
    audit.record(
        session,
        Action.USERS_IMPORTED,
        actor=admin,
        system=system,
        invitations=sent.invited,
        deactivated=sent.deactivated,
        skipped=len(sent.skipped),
    )
    return sent


def _invite(session, admin: User, system: System, batch: list, now, sso, sent: Sent) -> None:
    """One batch of invitations: a few statements, whatever its size."""
    users = _created(session, admin, batch, now, sent)
    links = [tokens.new_link(user, Purpose.INVITATION, INVITATION_TTL, now) for user in users]
    if links:
        session.execute(sa.insert(PasswordToken), [_values(link) for link, _ in links])
    outbox.insert_rows(
        session,
        [
            invitation_email(system, admin.display_name, user, token, now, sso)
            for user, (_, token) in zip(users, links, strict=True)
        ],
    )
    for role in sorted({user.role for user in users}):
        audit.record_each(
            session,
            Action.USER_INVITED,
            actor=admin,
            subjects=[user for user in users if user.role == role],
            role=role,
            imported=True,
        )
    sent.invited += len(users)


def _deactivate(
    session: Session, admin: User, emails: list[str], now: datetime, sent: Sent
) -> None:
    """Offboard the firm's users with these emails, as Edit user does: every
    session ends at once, pending sign-ins and links are dropped, audited."""
    if not emails:
        return
    found = {}
    for start in range(0, len(emails), BATCH_SIZE):
        chunk = emails[start : start + BATCH_SIZE]
        found.update(
            (user.email, user)
            for user in session.exec(
                select(User).where(User.system_id == admin.system_id, User.email.in_(chunk))
            )
        )
    for email in emails:
        user = found.get(email)
        if user is None or user.id == admin.id or not (user.active or user.invited_at):
            sent.skipped.append(f"{email} (changed since the preview)")
            continue
        was_invited = not user.active  # before anything below marks them inactive
        if user.active_admin and not stop_being_admin(session, user, user.role, False):
            sent.skipped.append(f"{email} (the firm's last active admin)")
            continue
        end_access(session, user, now)
        if was_invited:  # not active yet: deactivating them revokes the invitation
            audit.record(
                session, Action.INVITATION_REVOKED, actor=admin, subject=user, imported=True
            )
        else:
            audit.record(
                session,
                Action.USER_UPDATED,
                actor=admin,
                subject=user,
                changes={"active": [True, False]},
                imported=True,
            )
        sent.deactivated += 1


def _created(session: Session, admin: User, batch: list, now: datetime, sent: Sent) -> list[User]:
    """The batch's users, inserted; emails someone took since the preview are
    skipped (and noted), found by one query, or by the unique index for one
    taken at this very moment."""
    taken = taken_emails(session, [email for email, _, _ in batch])
    sent.skipped.extend(
        f"{email} (taken since the preview)" for email, _, _ in batch if email in taken
    )
    values = [
        _values(new_invited_user(admin.system_id, email, name, role, now))
        for email, name, role in batch
        if email not in taken
    ]
    if not values:
        return []
    try:
        with session.begin_nested():
            # One INSERT … RETURNING for the batch (the ORM's flush writes a
            # row per statement on SQLite).
            return list(session.scalars(sa.insert(User).returning(User), values))
    except IntegrityError:
        pass
    # Someone took one of them in between: one at a time, so only theirs is lost.
    created = []
    for email, name, role in batch:
        if email in taken:
            continue
        user = new_invited_user(admin.system_id, email, name, role, now)
        if inserted(session, user):
            created.append(user)
        else:
            sent.skipped.append(f"{email} (taken since the preview)")
    return created


def _values(row) -> dict:
    """A new model row's column values, for a bulk INSERT."""
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key != "id"
    }
