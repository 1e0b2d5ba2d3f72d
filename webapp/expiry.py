"""The registry of rows that expire: each table declares, next to its model,
which of its rows are over (`@expires`), and one mechanism removes them
(`webapp.retention`, run hourly by beat and by `retention run`).

A predicate is `where(model, now, settings)`: a SQL condition on the model's
columns, given the current time and the app's config (for the configurable
periods). It must be served by an index, since the run looks rows up by it a
batch at a time. Without `clear` the matching rows are deleted; with it they
are kept and those columns set (an email's bodies dropped, its dedupe key
kept), so the predicate must stop matching a cleared row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

Predicate = Callable[[Any, datetime, Mapping], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class Expiry:
    name: str  # what the run reports, e.g. "pending sign-ins"
    model: Any
    where: Predicate
    clear: Mapping[str, Any] | None = None

    def condition(self, now: datetime, settings: Mapping) -> sa.ColumnElement[bool]:
        return self.where(self.model, now, settings)


REGISTRY: list[Expiry] = []


def days(number: int) -> timedelta:
    """A period given in days in the config (predicates' shorthand)."""
    return timedelta(days=number)


def expires(name: str, where: Predicate, *, clear: Mapping[str, Any] | None = None):
    """Class decorator: register `where` as the expiry of the model's rows."""

    def register(model):
        if any(entry.name == name for entry in REGISTRY):
            raise ValueError(f"an expiry called {name!r} is already registered")
        REGISTRY.append(Expiry(name, model, where, clear))
        return model

    return register
