"""Users & permissions → "Import users": invitations for many people from one CSV.

Two requests. The preview reads the upload a line at a time (`preview`),
checks each row by Add user's rules (`invitations.normalised_fields`), looks
the emails up 500 at a time, and says of every row "New", "Already exists"
or "Invalid" (with why). The new rows are kept server-side for an hour
(`UserImport`), so "Send invitations" needs no second upload and sends
exactly what the admin saw. Sending (`send`) creates the users, their links,
their emails and their audit events 500 at a time, a few statements per
batch; a row whose email was taken since the preview is skipped and named,
and never stops the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import BinaryIO

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from webapp import audit, outbox
from webapp.accounts import FieldError
from webapp.admin.invitations import (
    INVITATION_TTL,
    firm_sso,
    invitation_email,
    new_invited_user,
    normalised_fields,
)
from webapp.admin.models import UserImport
from webapp.audit import Action
from webapp.models import PasswordToken, Role, System, User
from webapp.passwords import tokens
from webapp.passwords.tokens import Purpose
from webapp.single_use import claim_once

MAX_FILE_BYTES = 2 * 1024 * 1024  # 10,000 rows of long names and emails
MAX_ROWS = 10_000
BATCH_SIZE = 500
KEPT_FOR = timedelta(hours=1)
# The most rows the preview lists one by one (beyond, every row that is not new
# is listed, and new ones up to this many in all; the rest are counted).
LISTED_ROWS = 500
HEADINGS = {
    "email": "email",
    "email address": "email",
    "display name": "display_name",
    "name": "display_name",
    "role": "role",
}
COLUMNS = ("email", "display_name", "role")
ROLES = {"user": Role.USER.value, "admin": Role.ADMIN.value, "": Role.USER.value}
SPENT = "This import was already sent, or is over an hour old: upload the file again."


class Result(StrEnum):
    NEW = "New"
    EXISTS = "Already exists"
    INVALID = "Invalid"


@dataclass(frozen=True)
class Row:
    line: int  # the row's line in the file, as a spreadsheet numbers it
    email: str
    display_name: str
    role: str
    result: Result
    reason: str = ""


@dataclass
class Preview:
    rows: list[Row] = field(default_factory=list)
    too_many: bool = False  # the file had more than MAX_ROWS rows; the rest were not read

    def count(self, result: Result) -> int:
        return sum(1 for row in self.rows if row.result is result)

    def summary(self) -> str:
        """ "8 rows: 2 new, 2 already exist, 4 invalid." """
        rows, exist = len(self.rows), self.count(Result.EXISTS)
        return (
            f"{rows:,} row{'' if rows == 1 else 's'}: {self.count(Result.NEW):,} new, "
            f"{exist:,} already exist{'s' if exist == 1 else ''}, "
            f"{self.count(Result.INVALID):,} invalid."
        )

    @property
    def new_rows(self) -> list[Row]:
        return [row for row in self.rows if row.result is Result.NEW]

    def listed(self) -> list[Row]:
        """The rows the page lists, in the file's order: all of them up to
        LISTED_ROWS; beyond, every row that will not be invited and the first
        new ones."""
        if len(self.rows) <= LISTED_ROWS:
            return self.rows
        problems = [row for row in self.rows if row.result is not Result.NEW]
        shown = problems + self.new_rows[: max(LISTED_ROWS - len(problems), 0)]
        return sorted(shown, key=lambda row: row.line)


def decoded_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """Text lines of an upload: UTF-8 (with or without Excel's BOM), else a
    line at a time Windows-1252, as Excel's plain "CSV" saves on Windows.
    Line ends become "\n" (old Mac files end lines with "\r" alone, which
    `csv` refuses mid-line); NUL characters, never meaningful here, are dropped."""
    for number, raw in enumerate(lines):
        if number == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
        pieces = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for piece in pieces[:-1]:
            yield piece + "\n"
        if pieces[-1]:
            yield pieces[-1]


def preview(session: Session, upload: BinaryIO) -> Preview:
    """Every row of the CSV and what sending would do with it; writes nothing.
    `FieldError` for a file too big, unreadable, or without rows."""
    upload.seek(0, io.SEEK_END)
    if upload.tell() > MAX_FILE_BYTES:
        raise FieldError("file", "The file is larger than 2 MB: split it into smaller files.")
    upload.seek(0)
    result = Preview()
    reader = csv.reader(decoded_lines(upload))
    first_line: dict[str, int] = {}  # email → the line it was first seen on
    try:
        for batch in _batches(reader, result):
            result.rows.extend(_checked(session, batch, first_line))
    except csv.Error as error:  # e.g. a cell over csv's 128 KB limit
        message = f"Line {reader.line_num} could not be read as CSV ({error})."
        raise FieldError("file", message) from None
    if not result.rows:
        raise FieldError("file", "The file has no rows: one person per row, as in the template.")
    return result


def _batches(reader, result: Preview) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows as (line, [email, name, role]), BATCH_SIZE at a time; blank
    rows skipped; a first row of headings names the columns (any order)."""
    columns = {"email": 0, "display_name": 1, "role": 2}
    batch: list[tuple[int, list[str]]] = []
    first_row, count = True, 0
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if first_row:
            first_row = False
            if _is_heading(cells):
                columns = {
                    HEADINGS[cell.strip().lower()]: index
                    for index, cell in enumerate(cells)
                    if cell.strip().lower() in HEADINGS
                }
                continue
        if count == MAX_ROWS:
            result.too_many = True
            break
        count += 1
        batch.append((reader.line_num, [_cell(cells, columns.get(name)) for name in COLUMNS]))
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _is_heading(cells: list[str]) -> bool:
    return any(cell.strip().lower() in ("email", "email address") for cell in cells)


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _checked(session: Session, batch: list[tuple[int, list[str]]], first_line: dict) -> list[Row]:
    """The rows of one batch, checked; one query for the emails already taken."""
    rows = [_row(line, cells, first_line) for line, cells in batch]
    taken = taken_emails(session, [row.email for row in rows if row.result is Result.NEW])
    return [
        replace(row, result=Result.EXISTS)
        if row.result is Result.NEW and row.email in taken
        else row
        for row in rows
    ]


def _row(line: int, cells: list[str], first_line: dict[str, int]) -> Row:
    """One row by Add user's rules, before the database is asked: new or invalid."""
    email, name, role = cells
    try:
        if role.strip().lower() not in ROLES:
            raise FieldError("role", "The role must be User or Admin.")
        email, name, role = normalised_fields(email, name, ROLES[role.strip().lower()])
    except FieldError as error:
        as_given = (email.strip(), " ".join(name.split()), role.strip())
        return Row(line, *as_given, Result.INVALID, str(error))
    if email in first_line:
        return Row(
            line,
            email,
            name,
            role,
            Result.INVALID,
            f"Also on line {first_line[email]} of the file.",
        )
    first_line[email] = line
    return Row(line, email, name, role, Result.NEW)


def taken_emails(session: Session, emails: list[str]) -> set[str]:
    """Which of these emails someone has, in any firm (which firm is never said)."""
    if not emails:
        return set()
    return set(session.exec(select(User.email).where(User.email.in_(emails))))


def keep(session: Session, admin: User, found: Preview, now: datetime) -> UserImport:
    """Keep the preview's new rows for "Send invitations" (an hour)."""
    kept = UserImport(
        system_id=admin.system_id,
        admin_id=admin.id,
        rows=[[row.email, row.display_name, row.role] for row in found.new_rows],
        created_at=now,
        expires_at=now + KEPT_FOR,
    )
    session.add(kept)
    session.flush()
    return kept


def firm_import(session: Session, admin: User, import_id: int) -> UserImport | None:
    """The import with this id if it is of the admin's firm (else it is not found)."""
    kept = session.get(UserImport, import_id)
    return kept if kept is not None and kept.system_id == admin.system_id else None


def kept_import(session: Session, admin: User, import_id: int, now: datetime) -> UserImport | None:
    """The admin's firm's import with this id, if not sent yet and still kept."""
    kept = firm_import(session, admin, import_id)
    if kept is None or kept.consumed_at is not None or kept.expires_at <= now:
        return None
    return kept


@dataclass
class Sent:
    invited: int = 0
    skipped: list[str] = field(default_factory=list)  # emails taken since the preview


def send(session: Session, admin: User, import_id: int, now: datetime) -> Sent:
    """Invite the import's people (once: of two clicks, one sends)."""
    table = UserImport.__table__
    if not claim_once(
        session, table, table.c.id == import_id, table.c.system_id == admin.system_id, now=now
    ):
        raise FieldError("import", SPENT)
    rows = session.execute(sa.select(table.c.rows).where(table.c.id == import_id)).scalar_one()
    system = session.get(System, admin.system_id)
    sso = firm_sso(session, system.id)  # once for the import, not per row
    sent = Sent()
    for start in range(0, len(rows), BATCH_SIZE):
        users = _created(session, admin, rows[start : start + BATCH_SIZE], now, sent)
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
    audit.record(
        session,
        Action.USERS_IMPORTED,
        actor=admin,
        system=system,
        invitations=sent.invited,
        skipped=len(sent.skipped),
    )
    return sent


def _created(session: Session, admin: User, batch: list, now: datetime, sent: Sent) -> list[User]:
    """The batch's users, inserted; emails someone took since the preview are
    skipped (and noted), found by one query, or by the unique index for one
    taken at this very moment."""
    taken = taken_emails(session, [email for email, _, _ in batch])
    sent.skipped.extend(email for email, _, _ in batch if email in taken)
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
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
        except IntegrityError:
            sent.skipped.append(email)
            continue
        created.append(user)
    return created


def _values(row) -> dict:
    """A new model row's column values, for a bulk INSERT."""
    return {
        column.key: getattr(row, column.key)
        for column in row.__table__.columns
        if column.key != "id"
    }
