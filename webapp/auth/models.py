"""The step-up proofs table (webapp.models re-exports it): README, "Step-up"."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


@expires("step-up proofs", lambda row, now, _: row.expires_at <= now)
class StepUpProof(SQLModel, table=True):
    """A fresh proof ("Confirm it's you") given in one browser session.

    The browser's session holds only a random token; the row stores its hash,
    whose user it is, under which session version (sign-out and every
    other end of the user's sessions move the version on, which ends it) and
    in which browser session (signing that one out deletes it).
    """

    __tablename__ = "step_up_proofs"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="users.id", index=True)
    session_version: int
    # The browser session it was given in: signing that one out ends it.
    browser_session_id: int | None = Field(default=None, index=True)
    method: str = Field(max_length=20)  # which proof: "code", "password" …
    proved_at: datetime = Field(sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
