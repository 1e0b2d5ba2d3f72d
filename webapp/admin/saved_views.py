"""Admin: saved views of the users list (an admin's own, and those shared)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from webapp.accounts import FieldError
from webapp.admin.user_list import UserFilter
from webapp.models import ListView, User


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
