"""Admin: the users list (filter, sort, paging, the MFA totals) and its CSV.

Every function takes the admin's system id and a `session`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from sqlmodel import Session, func, select

from webapp import user_search
from webapp.csv_export import csv_chunks
from webapp.models import User, search_key, utcnow
from webapp.security import ascii_int
from webapp.sso.policy import with_mfa, without_mfa

PAGE_SIZE = 50
# Offset paging stays cheap only so deep; past it the admin narrows the filter.
MAX_ROWS_PAGED = 10_000
MAX_PAGE = MAX_ROWS_PAGED // PAGE_SIZE
# Up to this many matches are sorted on their own rather than via a sort index.
# It is also how far a search counts: a substring match no B-tree serves costs
# a scan as long as the count, so a broader search says "more than 5,000" and
# pages through its first 5,000 (README, "Filter performance": p95 under 50 ms
# at 100,000 users).
SMALL_RESULT = 5_000
MAX_SEARCH_LENGTH = 100

# Sort key -> columns. Ties go by name (search_key), then id, which the caller
# appends. Each is served, with id, by an index of `USER_LIST_INDEXES`.
SORTS = {
    "name": (User.search_key,),
    "email": (User.email, User.search_key),
    "role": (User.role, User.search_key),
    "active": (User.active, User.search_key),
    "mfa": (User.mfa_enabled, User.search_key),
    "last_sign_in": (User.last_sign_in_at, User.search_key),
}
# Each filter's values ("" for any); their labels are the form's (`admin.forms`).
FILTER_VALUES = {
    # "overdue": without MFA past the enrolment deadline; "locked": codes locked now.
    "mfa": ("", "off", "on", "overdue", "locked"),
    "role": ("", "admin", "user"),
    "active": ("", "yes", "no"),
}


@dataclass(frozen=True)
class UserFilter:
    """The users list's filter, sort and page, as carried in the URL."""

    q: str = ""
    mfa: str = ""
    role: str = ""
    active: str = ""
    sort: str = "name"
    direction: str = "asc"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> UserFilter:
        """Parse query arguments; unknown or malformed values fall back to defaults."""

        def choice(name: str) -> str:
            value = args.get(name, "")
            return value if value in FILTER_VALUES[name] else ""

        sort = args.get("sort", "name")
        page = ascii_int(args.get("page", "1"))
        return cls(
            q=" ".join(args.get("q", "").split())[:MAX_SEARCH_LENGTH],
            mfa=choice("mfa"),
            role=choice("role"),
            active=choice("active"),
            sort=sort if sort in SORTS else "name",
            direction="desc" if args.get("dir") == "desc" else "asc",
            page=min(page, MAX_PAGE) if page else 1,
        )

    @classmethod
    def from_query(cls, query: str) -> UserFilter:
        """Parse a stored query string (a saved view)."""
        return cls.from_args({k: v[0] for k, v in parse_qs(query).items()})

    def query(self, **changes) -> str:
        """This filter (with `changes`) as a query string of its non-default parts."""
        state = replace(self, **changes)
        parts = {
            "q": state.q,
            "mfa": state.mfa,
            "role": state.role,
            "active": state.active,
            "sort": "" if state.sort == "name" else state.sort,
            "dir": "" if state.direction == "asc" else state.direction,
            "page": "" if state.page == 1 else str(state.page),
        }
        return urlencode({key: value for key, value in parts.items() if value})

    def view_query(self) -> str:
        """The query a saved view keeps: filters and sort, never the page."""
        return self.query(page=1)

    def sort_query(self, key: str) -> str:
        """The query for clicking a column header: sort by it, or reverse it."""
        direction = "desc" if key == self.sort and self.direction == "asc" else "asc"
        return self.query(sort=key, direction=direction, page=1)

    @property
    def needle(self) -> str:
        """The search folded as `User.search_key` is (case and accents dropped)."""
        return search_key(self.q).strip()

    def conditions(
        self, system_id: int, counts_sso: bool = False, now: datetime | None = None
    ) -> list:
        """SQL conditions for this filter inside one system (`counts_sso`: the
        firm counts a single sign-on as MFA, `webapp.sso.policy`)."""
        now = now or utcnow()
        conditions = [User.system_id == system_id]
        needle = self.needle
        if needle:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(User.search_key.like(f"%{escaped}%", escape="\\"))
        if self.mfa == "on":
            conditions.append(with_mfa(counts_sso))
        elif self.mfa == "off":
            conditions.append(without_mfa(counts_sso))
        elif self.mfa == "overdue":
            conditions += [without_mfa(counts_sso), User.mfa_deadline <= now]
        elif self.mfa == "locked":
            conditions.append(User.mfa_locked_until > now)
        if self.role:
            conditions.append(User.role == self.role)
        if self.active:
            conditions.append(User.active == (self.active == "yes"))
        return conditions

    def order_by(self, columns=None) -> list:
        """ORDER BY terms (on `columns` of a subquery of LIST_COLUMNS when given)."""
        terms = (*SORTS[self.sort], User.id)
        if columns is not None:
            terms = tuple(columns[term.key] for term in terms)
        return [term.desc() if self.direction == "desc" else term.asc() for term in terms]


LIST_COLUMNS = (
    User.id,
    User.search_key,
    User.display_name,
    User.email,
    User.role,
    User.active,
    User.invited_at,
    User.mfa_enabled,
    User.mfa_app,
    User.passkey_count,
    User.mfa_deadline,
    User.last_sign_in_at,
    User.last_sign_in_method,
    User.last_mfa_reminder_at,
)


@dataclass(frozen=True)
class UserPage:
    """One page of the users list plus the counts of its summary."""

    rows: list
    matched: int
    page: int
    pages: int
    # A search counts at most SMALL_RESULT + 1 matches ("more than …").
    capped: bool = False

    @property
    def more_than_paged(self) -> bool:
        """Whether matches exist past the last page offered."""
        return self.capped or self.matched > MAX_ROWS_PAGED


@dataclass(frozen=True)
class MfaTotals:
    """The system-wide MFA summary (active users), independent of any filter."""

    total: int
    without_mfa: int

    @property
    def adoption_percent(self) -> int:
        """Share of active users with MFA, rounded down (100 when there are none)."""
        if not self.total:
            return 100
        return (self.total - self.without_mfa) * 100 // self.total


def mfa_totals(session: Session, system_id: int, counts_sso: bool = False) -> MfaTotals:
    """Active users with and without MFA: two range counts on one index (with
    `counts_sso`, a last sign-in through the firm's provider counts as MFA)."""

    def count(predicate) -> int:
        return session.exec(
            select(func.count()).select_from(User).where(User.system_id == system_id, predicate)
        ).one()

    active = User.active == sa.true()
    lacking = count(sa.and_(active, without_mfa(counts_sso)))
    return MfaTotals(
        total=lacking + count(sa.and_(active, with_mfa(counts_sso))), without_mfa=lacking
    )


def list_users(
    session: Session, system_id: int, user_filter: UserFilter, counts_sso: bool = False
) -> UserPage:
    """The page of users that `user_filter` asks for, with the match count.

    Two plans, chosen by how many users match. Few (up to SMALL_RESULT): their
    ids come off the filter's index (for a rare search on SQLite, off the
    trigram index: `user_search`) and only they are sorted, so a sparse filter
    never walks a sort index row by row. Many: the sort index yields the
    page's ids at once because matches are dense, then the page's rows are
    read. Without a search the count is an index-only count; a search (a
    substring match no B-tree serves) finds its first SMALL_RESULT + 1 ids,
    count and sorted page in one statement, and stops counting there: a
    broader search is "more than SMALL_RESULT" and pages through that many.
    """
    conditions = user_filter.conditions(system_id, counts_sso)
    rows_paged = SMALL_RESULT if user_filter.q else MAX_ROWS_PAGED
    page = min(user_filter.page, rows_paged // PAGE_SIZE)
    offset = (page - 1) * PAGE_SIZE
    rows = None
    if user_filter.q:
        matched, rows = _few_matches(session, conditions, user_filter, offset)
    else:
        matched = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    capped = bool(user_filter.q) and matched > SMALL_RESULT
    pages = max(1, -(-min(matched, rows_paged) // PAGE_SIZE))
    if page > pages:  # past the end (a stale link): the last page
        page, offset = pages, (pages - 1) * PAGE_SIZE
    if matched > SMALL_RESULT:
        page_ids = (
            select(User.id)
            .where(*conditions)
            .order_by(*user_filter.order_by())
            .limit(PAGE_SIZE)
            .offset(offset)
            .subquery()
        )
        rows = session.exec(_rows_of(page_ids).order_by(*user_filter.order_by())).all()
    elif rows is None:
        rows = _few_matches(session, conditions, user_filter, offset)[1]
    return UserPage(rows, matched, page, pages, capped=capped)


def _few_matches(session: Session, conditions: list, user_filter: UserFilter, offset: int):
    """(matches counted up to SMALL_RESULT + 1, the sorted page among them).

    The page is the one at `offset`, or the last one when that is past the end.
    """
    # The candidates carry their sort keys, which every list index holds beside
    # search_key, so only the page's own rows are read from the table.
    candidates = user_search.driven_by_index(
        session,
        select(User.id, *SORTS[user_filter.sort]).where(*conditions),
        User.id,
        user_filter.needle,
    )
    candidates = candidates.limit(SMALL_RESULT + 1).cte("candidates").prefix_with("MATERIALIZED")
    counted = select(func.count().label("matched")).select_from(candidates).subquery()
    matched = select(func.count()).select_from(candidates).scalar_subquery()
    # Past SMALL_RESULT matches the caller pages via a sort index, so the sort is
    # skipped: a condition on the count alone runs once, before any join.
    few = matched <= SMALL_RESULT
    # A page past the end (a stale link) is the last page, found in this pass.
    offset = sa.case(
        (matched > offset, offset),
        (matched > 0, (matched - 1) // PAGE_SIZE * PAGE_SIZE),
        else_=0,
    )
    page_ids = (
        select(candidates.c.id)
        .where(few)
        .order_by(*user_filter.order_by(candidates.c))
        .limit(PAGE_SIZE)
        .offset(offset)
        .subquery()
    )
    ordered = _rows_of(page_ids).subquery()
    # Outer join: the count arrives even when the page is empty.
    result = session.exec(
        select(counted.c.matched, ordered)
        .select_from(counted.outerjoin(ordered, sa.true()))
        .order_by(*user_filter.order_by(ordered.c))
    ).all()
    return result[0].matched, [row for row in result if row.id is not None]


def _rows_of(page_ids: sa.Subquery) -> sa.Select:
    """The list's columns for the ids of a page.

    Paging picks ids alone, which the list indexes hold (on PostgreSQL too), so
    a deep page skips index entries instead of reading rows.
    """
    return select(*LIST_COLUMNS).join(page_ids, page_ids.c.id == User.id)


def mfa_methods(row) -> str:
    """A user's (or a list row's) MFA methods in words: "App", "Passkey ×2",
    "App, Passkey" (the MFA column's ✓ and the CSV; "" for none)."""
    methods = ["App"] if row.mfa_app else []
    if row.passkey_count:
        methods.append("Passkey" + (f" ×{row.passkey_count}" if row.passkey_count > 1 else ""))
    return ", ".join(methods)


CSV_HEADER = (
    "Name",
    "Email",
    "Role",
    "Active",
    "MFA",
    "MFA methods",
    "MFA deadline",
    "Last sign-in",
)


def users_csv(
    session: Session, system_id: int, user_filter: UserFilter, counts_sso: bool = False
) -> Iterator[str]:
    """The whole filtered list as CSV, streamed in chunks (rows fetched in batches)."""
    result = session.execute(
        select(*LIST_COLUMNS)
        .where(*user_filter.conditions(system_id, counts_sso))
        .order_by(*user_filter.order_by())
        .execution_options(yield_per=1000)
    )
    return csv_chunks(
        CSV_HEADER,
        (
            (
                (
                    row.display_name,
                    row.email,
                    row.role,
                    row.active,
                    row.mfa_enabled,
                    mfa_methods(row),
                    row.mfa_deadline,
                    row.last_sign_in_at,
                )
                for row in partition
            )
            for partition in result.partitions()
        ),
    )
