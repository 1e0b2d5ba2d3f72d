"""Users & permissions → "Import users", the first step: what each row of the
CSV would do. Read a line at a time (`preview`), each row checked by Add
user's rules (`invitations.normalised_fields`), the emails looked up 500 at a
time; nothing is written. A row is "New" (to invite), "Deactivate" (an
`active` column saying No, for a user of this firm), "No change", "Already
exists" (the email is used, in this firm or another: which, never said) or
"Invalid" (with why). `webapp.admin.user_import` keeps and sends the result.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import BinaryIO, NamedTuple

from sqlmodel import Session, select

from webapp.accounts import FieldError
from webapp.admin.invitations import normalised_fields
from webapp.models import Role, User

MAX_FILE_BYTES = 2 * 1024 * 1024  # 10,000 rows of long names and emails
MAX_ROWS = 10_000
BATCH_SIZE = 500
# The most rows the preview lists one by one (beyond, every row that is not new
# is listed, and new ones up to this many in all; the rest are counted).
LISTED_ROWS = 500
HEADINGS = {
    "email": "email",
    "email address": "email",
    "display name": "display_name",
    "name": "display_name",
    "role": "role",
    "active": "active",
    "status": "active",
}
COLUMNS = ("email", "display_name", "role", "active")
ROLES = {"user": Role.USER.value, "admin": Role.ADMIN.value, "": Role.USER.value}
# The `active` column: No deactivates an existing user of the firm; empty is Yes.
ACTIVE = {
    "": True,
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "active": True,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
    "inactive": False,
    "deactivated": False,
}
SEPARATORS = (",", ";", "\t")
UTF16 = 'The file is UTF-16 (Excel\'s "Unicode Text"): save it as "CSV UTF-8" and upload that.'
NOT_IN_FIRM = "No user of your firm has this email: there is nobody to deactivate."
YOURSELF = "That is your own account: deactivate it in Edit user if you mean to."


class Result(StrEnum):
    NEW = "New"
    DEACTIVATE = "Deactivate"
    UNCHANGED = "No change"
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

    def rows_of(self, result: Result) -> list[Row]:
        return [row for row in self.rows if row.result is result]

    def summary(self) -> str:
        """ "8 rows: 2 new, 1 to deactivate, 2 already exist, 3 invalid." (the
        deactivation and no-change parts only when there are some)"""
        rows, exist = len(self.rows), self.count(Result.EXISTS)
        parts = [f"{self.count(Result.NEW):,} new"]
        if self.count(Result.DEACTIVATE):
            parts.append(f"{self.count(Result.DEACTIVATE):,} to deactivate")
        if self.count(Result.UNCHANGED):
            parts.append(f"{self.count(Result.UNCHANGED):,} with no change")
        parts.append(f"{exist:,} already exist{'s' if exist == 1 else ''}")
        parts.append(f"{self.count(Result.INVALID):,} invalid")
        return f"{rows:,} row{'' if rows == 1 else 's'}: {', '.join(parts)}."

    def listed(self) -> list[Row]:
        """The rows the page lists, in the file's order: all of them up to
        LISTED_ROWS; beyond, every row that is not an invitation and the first
        new ones."""
        if len(self.rows) <= LISTED_ROWS:
            return self.rows
        others = [row for row in self.rows if row.result is not Result.NEW]
        shown = others + self.rows_of(Result.NEW)[: max(LISTED_ROWS - len(others), 0)]
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


def preview(session: Session, admin: User, upload: BinaryIO) -> Preview:
    """Every row of the CSV and what sending would do with it; writes nothing.
    `FieldError` for a file too big, unreadable, or without rows."""
    upload.seek(0, io.SEEK_END)
    if upload.tell() > MAX_FILE_BYTES:
        raise FieldError("file", "The file is larger than 2 MB: split it into smaller files.")
    upload.seek(0)
    if upload.read(2) in (b"\xff\xfe", b"\xfe\xff"):
        raise FieldError("file", UTF16)
    upload.seek(0)
    result = Preview()
    reader = csv_reader(decoded_lines(upload))
    first_line: dict[str, int] = {}  # email → the line it was first seen on
    try:
        for batch in _batches(reader, result):
            result.rows.extend(_checked(session, admin, batch, first_line))
    except csv.Error as error:  # e.g. a cell over csv's 128 KB limit
        message = f"Line {reader.line_num} could not be read as CSV ({error})."
        raise FieldError("file", message) from None
    if not result.rows:
        raise FieldError("file", "The file has no rows: one person per row, as in the template.")
    return result


def csv_reader(lines: Iterator[str]):
    """A reader for the file's separator: a comma, or the semicolon Excel writes
    where the comma is the decimal mark (de, fr, nl …), or a tab; whichever the
    first non-blank line holds most of."""
    seen = []
    for line in lines:
        seen.append(line)
        if line.strip():
            break
    # Counted outside quoted cells ("Ngata; Tama" is a name, not three cells).
    first = re.sub(r'"[^"]*"', "", seen[-1] if seen else "")
    separator = max(SEPARATORS, key=first.count)  # a tie keeps the comma (first)
    return csv.reader(itertools.chain(seen, lines), delimiter=separator)


def _batches(reader, result: Preview) -> Iterator[list[tuple[int, list[str]]]]:
    """The rows as (line, [email, name, role, active]), BATCH_SIZE at a time;
    blank rows skipped; a first row of headings names the columns (any order).
    A row's line is the first of its lines (a quoted cell may hold line breaks)."""
    columns = {"email": 0, "display_name": 1, "role": 2, "active": 3}
    batch: list[tuple[int, list[str]]] = []
    first_row, count, next_line = True, 0, 1
    for cells in reader:
        line, next_line = next_line, reader.line_num + 1
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
        batch.append((line, [_cell(cells, columns.get(name)) for name in COLUMNS]))
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _is_heading(cells: list[str]) -> bool:
    return any(cell.strip().lower() in ("email", "email address") for cell in cells)


def _cell(cells: list[str], index: int | None) -> str:
    return cells[index] if index is not None and index < len(cells) else ""


def _checked(
    session: Session, admin: User, batch: list[tuple[int, list[str]]], first_line: dict
) -> list[Row]:
    """The rows of one batch, checked; one query for the users their emails name."""
    rows = [_row(line, cells, first_line) for line, cells in batch]
    owners = {
        email: Owner(user_id, system_id, active or invited_at is not None, name, role)
        for email, user_id, system_id, active, invited_at, name, role in session.execute(
            select(
                User.email,
                User.id,
                User.system_id,
                User.active,
                User.invited_at,
                User.display_name,
                User.role,
            ).where(User.email.in_([row.email for row in rows if row.result is not Result.INVALID]))
        )
    }
    return [_with_owner(row, owners.get(row.email), admin) for row in rows]


class Owner(NamedTuple):
    """Who has a row's email."""

    user_id: int
    system_id: int
    has_access: bool  # active, or invited and not yet active
    display_name: str
    role: str


def _with_owner(row: Row, owner: Owner | None, admin: User) -> Row:
    """The row's result once the database has said who has its email."""
    if row.result is Result.NEW:
        return row if owner is None else replace(row, result=Result.EXISTS)
    if row.result is not Result.DEACTIVATE:
        return row
    if owner is None or owner.system_id != admin.system_id:
        return replace(row, result=Result.INVALID, reason=NOT_IN_FIRM)
    # Who it is, as the firm knows them (the file needs only the email).
    row = replace(row, display_name=owner.display_name, role=owner.role)
    if owner.user_id == admin.id:
        return replace(row, result=Result.INVALID, reason=YOURSELF)
    if not owner.has_access:
        return replace(row, result=Result.UNCHANGED, reason="Already deactivated.")
    return row


def _row(line: int, cells: list[str], first_line: dict[str, int]) -> Row:
    """One row by Add user's rules, before the database is asked: new, to
    deactivate, or invalid."""
    email, name, role, active = cells
    as_given = (email.strip(), " ".join(name.split()), role.strip())
    keep_active = ACTIVE.get(active.strip().lower())
    try:
        if keep_active is None:
            raise FieldError("active", "Active must be Yes or No.")
        if keep_active:
            if role.strip().lower() not in ROLES:
                raise FieldError("role", "The role must be User or Admin.")
            email, name, role = normalised_fields(email, name, ROLES[role.strip().lower()])
        else:  # someone to deactivate: only the email counts
            email = normalised_fields(email, "-", Role.USER.value)[0]
            name, role = as_given[1], as_given[2]
    except FieldError as error:
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
    return Row(line, email, name, role, Result.NEW if keep_active else Result.DEACTIVATE)


def taken_emails(session: Session, emails: list[str]) -> set[str]:
    """Which of these emails someone has, in any firm (which firm is never said)."""
    if not emails:
        return set()
    return set(session.exec(select(User.email).where(User.email.in_(emails))))
