"""SCIM filters (RFC 7644 §3.4.2.2) as SQL: scim2-models parses and checks the
filter against the User schema; this walks its syntax tree into a WHERE clause
on the users table. Nothing here reads the filter's text.

An attribute outside the published User schema is refused (400 invalidFilter,
by scim2-models); one inside it that no row holds (`emails.type` other than
"work") compares as false.
"""

from __future__ import annotations

import sqlalchemy as sa
from scim2_models import ScimFilter
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from sqlalchemy.sql.elements import ColumnElement

from webapp.models import ScimGroup, ScimGroupMember, User
from webapp.scim.schema import ScimUser

# SCIM's `active` (`schema.scim_active`): active, or invited and waiting for
# "Set your password" (`invited_at` is set only while not active).
SCIM_ACTIVE = sa.or_(User.active == sa.true(), User.invited_at.is_not(None)).self_group()


class InvalidFilter(ValueError):
    """A filter that does not parse, or does not fit the User schema."""


def parse(text: str, model=ScimUser) -> ScimFilter:
    try:
        return ScimFilter[model](text)
    except Exception as error:  # scim2-models raises its own or pydantic's errors
        raise InvalidFilter(str(error)) from error


def where(scim_filter: str | ScimFilter) -> ColumnElement[bool]:
    """The SQL condition of a SCIM filter (raises InvalidFilter)."""
    if not isinstance(scim_filter, ScimFilter):
        scim_filter = parse(scim_filter)
    return _UserFilter().visit(scim_filter.ast)


def _case_exact(column) -> bool:
    return column is User.external_id or column is ScimGroup.external_id


def _column(attr: AttrPath, inside_emails: bool = False):
    """The column an attribute path names (None: an attribute Firmguard lacks).

    Case-insensitive attributes compare lower-cased; emails are stored so.
    """
    name = attr.attr.lower()
    sub = (attr.sub_attr or "").lower()
    if inside_emails:
        if (name, sub) == ("type", ""):
            return sa.literal("work")
        return User.email if name == "value" and not sub else None
    if (name, sub) == ("emails", "type"):
        return sa.literal("work")
    if (name, sub) in {("username", ""), ("emails", "value"), ("emails", "")}:
        return User.email
    if (name, sub) == ("displayname", ""):
        return sa.func.lower(User.display_name)
    if (name, sub) == ("externalid", ""):
        return User.external_id  # caseExact (RFC 7643 §3.1)
    if (name, sub) == ("active", ""):
        return SCIM_ACTIVE
    if (name, sub) == ("id", ""):
        return sa.cast(User.id, sa.String)
    return None


class _UserFilter(FilterVisitor[ColumnElement[bool]]):
    column_of = staticmethod(_column)

    def __init__(self, inside_emails: bool = False) -> None:
        self.inside_emails = inside_emails

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        column = self.column_of(node.attr_path, self.inside_emails)
        if column is None:
            return sa.false()
        value = node.value
        if column is SCIM_ACTIVE and not isinstance(value, bool | None):
            raise InvalidFilter(f"active compares with true or false, not {value!r}.")
        if isinstance(value, str) and not _case_exact(column):
            value = value.lower()
        op = node.op
        if op is CompareOperator.eq:
            return column.is_(None) if value is None else column == value
        if op is CompareOperator.ne:
            return (
                column.is_not(None) if value is None else sa.or_(column != value, column.is_(None))
            )
        if not isinstance(value, str):
            return sa.false()
        if op is CompareOperator.co:
            return column.contains(value, autoescape=True)
        if op is CompareOperator.sw:
            return column.startswith(value, autoescape=True)
        if op is CompareOperator.ew:
            return column.endswith(value, autoescape=True)
        return {
            CompareOperator.gt: column > value,
            CompareOperator.ge: column >= value,
            CompareOperator.lt: column < value,
            CompareOperator.le: column <= value,
        }[op]

    def visit_present(self, node: Present) -> ColumnElement[bool]:
        column = self.column_of(node.attr_path, self.inside_emails)
        return sa.false() if column is None else column.is_not(None)

    def visit_not(self, node: Not) -> ColumnElement[bool]:
        return sa.not_(self.visit(node.expr))

    def visit_logical_expr(self, node: LogicalExpr) -> ColumnElement[bool]:
        join = sa.and_ if node.op == LogicalOperator.and_ else sa.or_
        return join(*(self.visit(term) for term in node.terms))

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        """`emails[value eq "…"]`: each user has one email, the work one."""
        if node.attr_path.attr.lower() != "emails":
            return sa.false()
        return _UserFilter(inside_emails=True).visit(node.val_filter)


def group_where(scim_filter: ScimFilter) -> ColumnElement[bool]:
    """The SQL condition of a filter on pushed groups (`scim_groups`)."""
    return _GroupFilter().visit(scim_filter.ast)


def _group_column(attr: AttrPath, inside_emails: bool = False):
    name, sub = attr.attr.lower(), (attr.sub_attr or "").lower()
    if (name, sub) == ("displayname", ""):
        return sa.func.lower(ScimGroup.display_name)
    if (name, sub) == ("externalid", ""):
        return ScimGroup.external_id
    if (name, sub) == ("id", ""):
        return sa.cast(ScimGroup.id, sa.String)
    return None


class _GroupFilter(_UserFilter):
    """As for users; `members.value eq "7"` (or `members[value eq "7"]`) asks
    whether user 7 is in the group."""

    column_of = staticmethod(_group_column)

    def visit_comparison(self, node: Comparison) -> ColumnElement[bool]:
        attr = node.attr_path
        if attr.attr.lower() == "members" and (attr.sub_attr or "value").lower() == "value":
            return self._has_member(node)
        return super().visit_comparison(node)

    def _has_member(self, node: Comparison) -> ColumnElement[bool]:
        if node.op is not CompareOperator.eq or not str(node.value).isdigit():
            return sa.false()
        return sa.exists().where(
            ScimGroupMember.group_id == ScimGroup.id, ScimGroupMember.user_id == int(node.value)
        )

    def visit_value_path(self, node: ValuePath) -> ColumnElement[bool]:
        inner = node.val_filter
        if (
            node.attr_path.attr.lower() == "members"
            and isinstance(inner, Comparison)
            and inner.attr_path.attr.lower() == "value"
        ):
            return self._has_member(inner)
        return sa.false()
