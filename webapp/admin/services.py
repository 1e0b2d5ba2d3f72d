"""Admin logic: the users list and its saved views, editing users (MFA reset
included), firm-wide enforcement, system settings, heads-up rule, audit log.

Every function takes the admin's system (or rows already scoped to it) and
a `session`; the caller commits.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa
from flask import current_app, url_for
from sqlalchemy.orm import aliased
from sqlmodel import Session, func, select

from webapp import audit, user_search
from webapp.accounts import InvalidInput
from webapp.audit import Action
from webapp.countries import COUNTRIES
from webapp.mfa.services import remove_mfa
from webapp.models import (
    AccountingLink,
    AuditEvent,
    HeadsUpKind,
    HeadsUpRule,
    ListView,
    Role,
    System,
    User,
    search_key,
)
from webapp.outbox import queue_email
from webapp.security import ascii_int

PAGE_SIZE = 50
# Offset paging stays cheap only so deep; past it the admin narrows the filter.
MAX_ROWS_PAGED = 10_000
MAX_PAGE = MAX_ROWS_PAGED // PAGE_SIZE
# Up to this many matches are sorted on their own rather than via a sort index.
# It is also how far a search counts: a substring match no B-tree serves costs
# a scan as long as the count, so a broader search says "more than 5,000" and
# pages through its first 5,000 (DESIGN.md §7: p95 under 50 ms at 100k users).
SMALL_RESULT = 5_000
MAX_SEARCH_LENGTH = 100
MAX_GRACE_DAYS = 365
ADMIN_NEEDS_MFA = (
    "Set up multi-factor authentication for your own account first (My Profile), "
    "then require it for everyone."
)


class FieldError(InvalidInput):
    """Refused input that belongs to one form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- The users list -----------------------------------------------------------

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
SORT_LABELS = {
    "name": "Name",
    "email": "Email",
    "role": "Role",
    "active": "Active",
    "mfa": "MFA",
    "last_sign_in": "Last sign-in",
}
FILTER_CHOICES = {
    "mfa": {"": "Any MFA state", "off": "MFA not enabled", "on": "MFA enabled"},
    "role": {"": "Any role", "admin": "Admins", "user": "Users"},
    "active": {"": "Active and inactive", "yes": "Active", "no": "Inactive"},
}
FILTER_LABELS = {"mfa": "MFA state", "role": "Role", "active": "Active"}


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
            return value if value in FILTER_CHOICES[name] else ""

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

    def conditions(self, system_id: int) -> list:
        """SQL conditions for this filter inside one system."""
        conditions = [User.system_id == system_id]
        needle = self.needle
        if needle:
            escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(User.search_key.like(f"%{escaped}%", escape="\\"))
        if self.mfa:
            conditions.append(User.mfa_enabled == (self.mfa == "on"))
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
    User.mfa_enabled,
    User.mfa_deadline,
    User.last_sign_in_at,
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


def mfa_totals(session: Session, system_id: int) -> MfaTotals:
    """Active users with and without MFA: two range counts on one index."""

    def count(mfa_enabled: bool) -> int:
        return session.exec(
            select(func.count())
            .select_from(User)
            .where(
                User.system_id == system_id,
                User.mfa_enabled == mfa_enabled,
                User.active == sa.true(),
            )
        ).one()

    without_mfa = count(False)
    return MfaTotals(total=without_mfa + count(True), without_mfa=without_mfa)


def list_users(session: Session, system_id: int, user_filter: UserFilter) -> UserPage:
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
    conditions = user_filter.conditions(system_id)
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


CSV_HEADER = ("Name", "Email", "Role", "Active", "MFA", "MFA deadline", "Last sign-in")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value) -> str:
    """A cell value a spreadsheet shows as text, never evaluates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def users_csv(session: Session, system_id: int, user_filter: UserFilter) -> Iterator[str]:
    """The whole filtered list as CSV, streamed in chunks (rows fetched in batches)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    result = session.execute(
        select(*LIST_COLUMNS)
        .where(*user_filter.conditions(system_id))
        .order_by(*user_filter.order_by())
        .execution_options(yield_per=1000)
    )
    for partition in result.partitions():
        for row in partition:
            writer.writerow(
                csv_cell(value)
                for value in (
                    row.display_name,
                    row.email,
                    row.role,
                    row.active,
                    row.mfa_enabled,
                    row.mfa_deadline,
                    row.last_sign_in_at,
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# --- Saved views -------------------------------------------------------------

BUILTIN_VIEWS = (("Users without MFA", UserFilter(mfa="off", active="yes").view_query()),)


def visible_views(session: Session, admin: User) -> list[ListView]:
    """The admin's own views and those shared by the system's other admins."""
    return list(
        session.exec(
            select(ListView)
            .where(
                ListView.system_id == admin.system_id,
                sa.or_(ListView.owner_id == admin.id, ListView.shared == sa.true()),
            )
            .order_by(ListView.name, ListView.id)
        )
    )


def own_view(session: Session, admin: User, view_id: int) -> ListView | None:
    """One of the admin's own views (others' views, shared or not, are not theirs)."""
    view = session.get(ListView, view_id)
    if view is None or view.owner_id != admin.id:
        return None
    return view


def clean_view_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise FieldError("name", "Give the view a name of 1 to 100 characters.")
    return name


def save_view(session: Session, admin: User, name: str, query: str, shared: bool) -> ListView:
    """Save the filters and sort of `query` under `name` (replacing the admin's
    view of that name)."""
    name = clean_view_name(name)
    view = session.exec(
        select(ListView).where(ListView.owner_id == admin.id, ListView.name == name)
    ).first() or ListView(system_id=admin.system_id, owner_id=admin.id, name=name)
    view.query = UserFilter.from_query(query).view_query()
    view.shared = shared
    session.add(view)
    return view


def rename_view(session: Session, admin: User, view: ListView, name: str) -> None:
    name = clean_view_name(name)
    clash = session.exec(
        select(ListView.id).where(
            ListView.owner_id == admin.id, ListView.name == name, ListView.id != view.id
        )
    ).first()
    if clash:
        raise FieldError("name", f"You already have a view called {name!r}.")
    view.name = name
    session.add(view)


# --- Editing a user ----------------------------------------------------------


def find_user(session: Session, system_id: int, user_id: int) -> User | None:
    """A user of this system only (another system's id is as good as unknown)."""
    user = session.get(User, user_id)
    return user if user is not None and user.system_id == system_id else None


def other_active_admins(session: Session, user: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(User)
        .where(
            User.system_id == user.system_id,
            User.role == Role.ADMIN.value,
            User.active == sa.true(),
            User.id != user.id,
        )
    ).one()


def enrolment_deadline(system: System, now: datetime) -> datetime | None:
    """When a user without MFA must have enrolled under the system's enforcement."""
    if not system.mfa_required:
        return None
    since = system.mfa_required_since or now
    return max(now, since + timedelta(days=system.mfa_grace_days))


@dataclass(frozen=True)
class UserChanges:
    display_name: str
    role: str
    active: bool
    mfa_enabled: bool
    billing_acknowledged: bool


def update_user(
    session: Session, *, admin: User, user: User, changes: UserChanges, now: datetime
) -> None:
    """Apply an admin's edit of `user` (an MFA reset emails them).

    All or nothing: any refused part raises `FieldError` before a change is made.
    """
    name = " ".join(changes.display_name.split())
    if not name or len(name) > 200:
        raise FieldError("display_name", "The name must be 1 to 200 characters.")
    if changes.role not in {role.value for role in Role}:
        raise FieldError("role", "Choose a role.")
    if changes.mfa_enabled and not user.mfa_enabled:
        raise FieldError(
            "mfa_enabled",
            "An admin cannot turn MFA on for someone else: the user sets it up from My Profile.",
        )
    resetting = user.mfa_enabled and not changes.mfa_enabled
    if resetting and not changes.billing_acknowledged:
        raise FieldError(
            "accept_billing",
            "To turn MFA off, select “I accept the billing changes and understand the "
            "terms of use”. Nothing was changed.",
        )
    losing_admin = (
        user.is_admin and user.active and (changes.role != Role.ADMIN.value or not changes.active)
    )
    if losing_admin and other_active_admins(session, user) == 0:
        raise FieldError(
            "role" if changes.role != Role.ADMIN.value else "active",
            "This is the last active admin: make someone else an admin first.",
        )

    before = {"display_name": user.display_name, "role": user.role, "active": user.active}
    user.display_name, user.role, user.active = name, changes.role, changes.active
    user.refresh_search_key()
    diff = {
        field: [old, getattr(user, field)]
        for field, old in before.items()
        if old != getattr(user, field)
    }
    if diff.get("active") == [True, False]:
        user.session_version += 1  # a deactivated user's sessions end now
    session.add(user)
    if diff:
        audit.record(session, Action.USER_UPDATED, actor=admin, subject=user, changes=diff)
    if resetting:
        reset_mfa(session, admin=admin, user=user, now=now)


def reset_mfa(session: Session, *, admin: User, user: User, now: datetime) -> None:
    """Turn `user`'s MFA off for them (the billing terms accepted), audit it, and
    queue the email telling them to set it up again."""
    remove_mfa(session, user)
    system = session.get(System, user.system_id)
    user.mfa_deadline = enrolment_deadline(system, now)
    session.add(user)
    audit.record(
        session,
        Action.MFA_RESET_BY_ADMIN,
        actor=admin,
        subject=user,
        billing_acknowledged=True,
        admin_email=admin.email,
    )
    queue_email(
        session,
        kind="admin_mfa_reset",
        recipient=user.email,
        subject="Your multi-factor authentication was reset",
        template="admin_mfa_reset",
        dedupe_key=f"admin_mfa_reset:{user.id}:{user.session_version}",
        system_id=user.system_id,
        user_name=user.display_name,
        admin_name=admin.display_name,
        system_name=system.name,
        profile_url=current_app.config["BASE_URL"].rstrip("/") + url_for("mfa.profile"),
    )


# --- Security settings -------------------------------------------------------


def users_to_enrol(session: Session, system_id: int) -> int:
    """Active users without MFA: those enforcement makes enrol."""
    return mfa_totals(session, system_id).without_mfa


def set_enforcement(
    session: Session,
    *,
    admin: User,
    system: System,
    required: bool,
    grace_days: int,
    now: datetime,
) -> int:
    """Switch firm-wide MFA on or off; return how many users got a deadline.

    On: every active user without MFA must enrol by now + grace days (0: at
    the next sign-in), set in one UPDATE. Off: every deadline is cleared.
    """
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise FieldError("grace_days", f"The grace period is 0 to {MAX_GRACE_DAYS} days.")
    if required and not system.mfa_required and not admin.mfa_enabled:
        # As GitHub does for organisations: whoever requires MFA has it, so
        # switching it on can never lock the firm's admin out of the admin pages.
        raise FieldError("required", ADMIN_NEEDS_MFA)
    if required == system.mfa_required and (not required or grace_days == system.mfa_grace_days):
        return 0
    in_system = User.__table__.c.system_id == system.id
    if required:
        system.mfa_required_since = system.mfa_required_since if system.mfa_required else now
        system.mfa_grace_days = grace_days
        deadline = max(now, system.mfa_required_since + timedelta(days=grace_days))
        affected = session.execute(
            sa.update(User)
            .where(in_system, User.active == sa.true(), User.mfa_enabled == sa.false())
            .values(mfa_deadline=deadline)
        ).rowcount
    else:
        system.mfa_required_since = None
        session.execute(
            sa.update(User)
            .where(in_system, User.mfa_deadline.is_not(None))
            .values(mfa_deadline=None)
        )
        affected = 0
    system.mfa_required = required
    session.add(system)
    audit.record(
        session,
        Action.MFA_REQUIRED_CHANGED,
        actor=admin,
        system=system,
        required=required,
        grace_days=grace_days if required else None,
        users_with_deadline=affected,
    )
    return affected


ACCOUNTING_LABELS = {
    AccountingLink.XERO.value: "Xero",
    AccountingLink.OTHER.value: "Other accounting",
    AccountingLink.NONE.value: "None",
}


def update_system_link(
    session: Session, *, admin: User, system: System, country: str, accounting: str
) -> None:
    """Change the system's country and accounting link (audited when changed)."""
    if country not in COUNTRIES:
        raise FieldError("country", "Choose a country from the list.")
    if accounting not in ACCOUNTING_LABELS:
        raise FieldError("accounting", "Choose an accounting link.")
    diff = {
        field: [getattr(system, field), value]
        for field, value in (("country", country), ("accounting_link", accounting))
        if getattr(system, field) != value
    }
    if not diff:
        return
    system.country, system.accounting_link = country, accounting
    session.add(system)
    audit.record(
        session,
        Action.SYSTEM_UPDATED,
        actor=admin,
        system=system,
        changes=diff,
        compliance_required=system.compliance_required,
    )


def system_admins(session: Session, system_id: int) -> list[User]:
    """The system's active admins, by name (recipient choices for the heads-up)."""
    return list(
        session.exec(
            select(User)
            .where(
                User.system_id == system_id,
                User.role == Role.ADMIN.value,
                User.active == sa.true(),
            )
            .order_by(User.search_key)
        )
    )


def heads_up_rule(session: Session, system_id: int) -> HeadsUpRule:
    """The system's heads-up rule (created with the defaults if missing)."""
    rule = session.exec(select(HeadsUpRule).where(HeadsUpRule.system_id == system_id)).first()
    if rule is None:
        rule = HeadsUpRule(system_id=system_id)
        session.add(rule)
        session.flush()
    return rule


@dataclass(frozen=True)
class HeadsUpSettings:
    enabled: bool
    kind: str
    hour: int
    recipient_ids: list[int] | None
    send_all_clear: bool


def update_heads_up(
    session: Session, *, admin: User, rule: HeadsUpRule, settings: HeadsUpSettings
) -> None:
    """Change the heads-up rule; recipients must be active admins of the system."""
    if settings.kind not in {kind.value for kind in HeadsUpKind}:
        raise FieldError("kind", "Choose which users the email reports.")
    if not 0 <= settings.hour <= 23:
        raise FieldError("hour", "Choose an hour from 0 to 23.")
    recipients = settings.recipient_ids
    if recipients is not None:
        allowed = {user.id for user in system_admins(session, rule.system_id)}
        if not recipients or not set(recipients) <= allowed:
            raise FieldError("admins", "Choose at least one of the system's admins.")
        recipients = sorted(set(recipients))
    values = {
        "enabled": settings.enabled,
        "kind": settings.kind,
        "hour": settings.hour,
        "recipient_ids": recipients,
        "send_all_clear": settings.send_all_clear,
    }
    diff = {
        field: [getattr(rule, field), value]
        for field, value in values.items()
        if getattr(rule, field) != value
    }
    if not diff:
        return
    for field, value in values.items():
        setattr(rule, field, value)
    session.add(rule)
    audit.record(session, Action.HEADS_UP_RULE_CHANGED, actor=admin, changes=diff)


# --- Audit log ---------------------------------------------------------------

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
