"""Single-use rows (a pending code step, a trip to the SSO provider): used once."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session


def claim_once(session: Session, table: sa.Table, *conditions, now: datetime) -> bool:
    """Mark the live row matching `conditions` used; True for the one caller that
    did. A conditional UPDATE, so of simultaneous requests exactly one wins."""
    return (
        session.execute(
            sa.update(table)
            .where(*conditions, table.c.consumed_at.is_(None), table.c.expires_at > now)
            .values(consumed_at=now)
        ).rowcount
        == 1
    )
