"""The passkey tables (webapp.models re-exports them): each registered
credential, and each ceremony's challenge."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from webapp.expiry import expires
from webapp.model_base import utc_column, utcnow


class Passkey(SQLModel, table=True):
    """A user's WebAuthn credential: a passkey or a security key.

    Looked up by its credential id (unique: one authenticator's key belongs
    to one account) at sign-in, and by its user on My Profile.
    """

    __tablename__ = "passkeys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    credential_id: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False, unique=True))
    # COSE public key as the authenticator sent it (py_webauthn decodes it).
    public_key: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    # Highest signature counter seen; 0 for authenticators that keep none.
    sign_count: int = Field(default=0, sa_type=sa.BigInteger)
    # The WebAuthn user.id the authenticator stored with it (random, not the
    # user's row id); the same for every passkey of a user.
    user_handle: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    name: str = Field(max_length=100)
    aaguid: str = Field(default="", max_length=36)
    user_verified: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column())


class Ceremony(StrEnum):
    """What a challenge was issued for (it is accepted for that only)."""

    REGISTER = "register"
    SECOND_STEP = "second_step"
    PASSWORDLESS = "passwordless"  # "Sign in with a passkey": no user until it answers
    STEP_UP = "step_up"  # "Confirm it's you": the signed-in user's proof


@expires("passkey challenges", lambda row, now, _: row.expires_at <= now)
class PasskeyChallenge(SQLModel, table=True):
    """One ceremony's challenge: server-side, single use, 5 minutes, bound to
    one browser session (which holds a random token whose hash is
    `browser_hash`), so a captured challenge is worth nothing elsewhere."""

    __tablename__ = "passkey_challenges"

    id: int | None = Field(default=None, primary_key=True)
    browser_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    ceremony: str = Field(max_length=20)
    # Whose ceremony it is: the signed-in user, or the pending sign-in's.
    user_id: int | None = Field(default=None, foreign_key="users.id")
    challenge: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    # A registration's WebAuthn user.id (the browser's answer does not repeat it).
    user_handle: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
