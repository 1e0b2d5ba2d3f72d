"""The Firmguard tables, and the predicates on them that several places share.

Every timestamp is timezone-aware UTC (`webapp.model_base`). A table whose
rows expire says which ones next to its model (`@expires`, `webapp.expiry`):
the hourly retention run deletes them, or clears what they no longer need.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.ext.hybrid import hybrid_property
from sqlmodel import Field, SQLModel

from webapp import user_search
from webapp.admin.models import UserImport
from webapp.adoption.models import AdoptionSnapshot, SnapshotSource
from webapp.auth.models import StepUpProof
from webapp.browser_sessions.models import BrowserSession, SignInOrigin
from webapp.expiry import expires
from webapp.limits.models import FailureCount, SignInUnlock
from webapp.model_base import UTCDateTime, partial_index, utc_column, utcnow
from webapp.passkeys.models import Ceremony, Passkey, PasskeyChallenge
from webapp.passwords.models import PasswordToken
from webapp.records import FINISHED_EMAIL, AuditEvent, EmailStatus, OutboundEmail
from webapp.scim.models import ScimGroup, ScimGroupMember, ScimToken
from webapp.sso.models import (
    SSO_METHODS,
    SignInMethod,
    SignInRequirement,
    SsoAttempt,
    SsoConfig,
    SsoDomain,
)

# Re-exported: the app and the migrations (webapp.models.UTCDateTime) name them
# here. The tables that grow with time are in webapp.records.
__all__ = [
    "BrowserSession",
    "SignInOrigin",
    "FINISHED_EMAIL",
    "AuditEvent",
    "Ceremony",
    "EmailStatus",
    "FailureCount",
    "OutboundEmail",
    "Passkey",
    "PasskeyChallenge",
    "PasswordToken",
    "SSO_METHODS",
    "AdoptionSnapshot",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "SignInMethod",
    "SignInUnlock",
    "SignInRequirement",
    "SnapshotSource",
    "SsoAttempt",
    "SsoConfig",
    "SsoDomain",
    "StepUpProof",
    "UserImport",
    "UTCDateTime",
    "utc_column",
    "utcnow",
]

# A model with hybrid properties (a rule usable on a row and in a query) tells
# pydantic they are not fields.
WITH_HYBRIDS = {"ignored_types": (hybrid_property,)}


def search_key(*parts: str) -> str:
    """Fold text for case- and accent-insensitive search: 'Zoë' -> 'zoe'."""
    text = " ".join(part for part in parts if part)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class AccountingLink(StrEnum):
    NONE = "none"
    XERO = "xero"
    OTHER = "other"


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


# Countries whose tax authorities advise MFA on accounting data (the article's NOTE).
COMPLIANCE_COUNTRIES = frozenset({"NZ", "AU"})


class System(SQLModel, table=True):
    """A firm's system (the tenant)."""

    __tablename__ = "systems"
    model_config = WITH_HYBRIDS

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    country: str = Field(max_length=2)
    timezone: str = Field(max_length=64)
    accounting_link: str = Field(default=AccountingLink.NONE.value, max_length=10)
    mfa_required: bool = Field(default=False)
    # When enforcement was switched on and how many days users then had to enrol.
    mfa_required_since: datetime | None = Field(default=None, sa_column=utc_column())
    mfa_grace_days: int = Field(default=0)
    scim_invitations: bool = Field(default=False)  # SCIM-created users are invited by email
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))

    @hybrid_property
    def compliance_required(self) -> bool:
        """NZ/AU firms with accounting linked must push their users to MFA
        (the same rule as SQL: `System.compliance_required` in a query)."""
        return (
            self.country in COMPLIANCE_COUNTRIES
            and self.accounting_link != AccountingLink.NONE.value
        )

    @compliance_required.inplace.expression
    @classmethod
    def _compliance_required_sql(cls) -> sa.ColumnElement[bool]:
        return sa.and_(
            cls.country.in_(sorted(COMPLIANCE_COUNTRIES)),
            cls.accounting_link != AccountingLink.NONE.value,
        )


# The admin list's indexes (README, "Filter performance"), each `(system_id, *columns,
# id)`: one per sort, in its order (`admin.user_list.SORTS`: ties by name, i.e.
# search_key, then id), and one per filter combination a search may walk. So an index
# yields exactly the list's ORDER BY; PostgreSQL reads ids and keys from the index
# alone; and as every one holds search_key, SQLite tests a search on it, reading matches only.
USER_LIST_INDEXES = {
    "ix_users_system_search": ("search_key",),
    "ix_users_system_email": ("email", "search_key"),
    "ix_users_system_last_sign_in": ("last_sign_in_at", "search_key"),
    "ix_users_system_role_search": ("role", "search_key"),
    "ix_users_system_active_search": ("active", "search_key"),
    "ix_users_system_mfa_search": ("mfa_enabled", "search_key"),
    "ix_users_system_mfa": ("mfa_enabled", "active", "search_key"),
    "ix_users_system_filters": ("role", "active", "mfa_enabled", "search_key"),
}


class User(UserMixin, SQLModel, table=True):
    """A person who signs in to a system (also the Flask-Login user)."""

    __tablename__ = "users"
    model_config = WITH_HYBRIDS

    __table_args__ = (
        *(
            sa.Index(name, "system_id", *columns, "id")
            for name, columns in USER_LIST_INDEXES.items()
        ),
        # Narrow, so PostgreSQL counts any filter (and the MFA totals) from the
        # index alone instead of scanning the table. Its column order never gives
        # SQLite more equality matches than a search index that holds search_key.
        sa.Index("ix_users_system_counts", "system_id", "active", "mfa_enabled", "role"),
        # The adoption panel's counts (README, "Adoption panel"): past the enrolment
        # deadline, not reminded today, and locked out now, each from an index alone.
        sa.Index(
            "ix_users_system_enrolment",
            *("system_id", "active", "mfa_enabled", "mfa_deadline", "last_mfa_reminder_at"),
        ),
        sa.Index("ix_users_system_locked", "system_id", "mfa_locked_until"),
        # SCIM's `externalId eq` filter (README, "Provisioning (SCIM)").
        sa.Index("ix_users_system_external_id", "system_id", "external_id"),
        # The adoption panel's per-method counts: small partial indexes.
        partial_index("ix_users_system_app", ("system_id", "active"), "mfa_app", "mfa_app = 1"),
        partial_index("ix_users_system_passkey", ("system_id", "active"), "passkey_count > 0"),
        # Substring search: a trigram GIN index on PostgreSQL (on SQLite, an FTS5
        # table outside this metadata: webapp/user_search.py).
        sa.Index(
            "ix_users_search_trgm",
            "search_key",
            postgresql_using="gin",
            postgresql_ops={"search_key": "gin_trgm_ops"},
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No index of its own: every list index starts with it.
    system_id: int = Field(foreign_key="systems.id")
    # Stored lower-cased, so the unique index makes emails unique case-insensitively.
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    display_name: str = Field(max_length=200)
    # Folded "name email" for the admin list's accent-insensitive search.
    search_key: str = Field(default="", max_length=500)
    password_hash: str = Field(max_length=255)
    role: str = Field(default=Role.USER.value, max_length=10)
    active: bool = Field(default=True)
    invited_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_sign_in_at: datetime | None = Field(default=None, sa_column=utc_column())
    # A SignInMethod: the users list shows "SSO", and counts it as MFA where the firm says so.
    last_sign_in_method: str | None = Field(default=None, max_length=10)
    # Part of the Flask-Login id: bumping it ends every session of this user.
    session_version: int = Field(default=1)
    # Denormalised from TotpCredential so list filters and jobs need no join.
    mfa_enabled: bool = Field(default=False)
    mfa_enabled_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Methods, denormalised likewise (MFA column, adoption): the app confirmed; passkeys.
    mfa_app: bool = Field(default=False)
    passkey_count: int = Field(default=0)
    # Enforcement with a grace period: the date by which this user must enrol.
    mfa_deadline: datetime | None = Field(default=None, sa_column=utc_column())
    # Wrong-code throttle (README, "Throttle"): kept in the DB, never in the session.
    mfa_failed_count: int = Field(default=0)
    mfa_lock_count: int = Field(default=0)
    mfa_locked_until: datetime | None = Field(default=None, sa_column=utc_column())
    last_mfa_reminder_at: datetime | None = Field(default=None, sa_column=utc_column())
    # The identity provider's own id for the user (SCIM `externalId`), kept as sent.
    external_id: str | None = Field(default=None, max_length=255)
    # When a SCIM client deleted the user: deactivated like any leaver (the row,
    # its audit trail and its email stay), and gone from SCIM's answers (404).
    deprovisioned_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    # The predicates the admin pages, enforcement and the daily run share, each
    # usable on a row and in a query (`User.active_admin` in a WHERE clause).
    # Comparisons with true/false, not bare columns, so SQLite's indexes serve them.

    @hybrid_property
    def active_admin(self) -> bool:
        """An admin who can still sign in."""
        return self.active and self.role == Role.ADMIN.value

    @active_admin.inplace.expression
    @classmethod
    def _active_admin_sql(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.active == sa.true(), cls.role == Role.ADMIN.value)

    @hybrid_property
    def active_without_mfa(self) -> bool:
        """Someone enforcement makes enrol, reminders remind and digests list."""
        return self.active and not self.mfa_enabled

    @active_without_mfa.inplace.expression
    @classmethod
    def _active_without_mfa_sql(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.active == sa.true(), cls.mfa_enabled == sa.false())

    @hybrid_property
    def active_with_mfa(self) -> bool:
        return self.active and self.mfa_enabled

    @active_with_mfa.inplace.expression
    @classmethod
    def _active_with_mfa_sql(cls) -> sa.ColumnElement[bool]:
        return sa.and_(cls.active == sa.true(), cls.mfa_enabled == sa.true())

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """Flask-Login's id: "<id>:<session version>", so sessions can be revoked."""
        return f"{self.id}:{self.session_version}"

    def refresh_search_key(self) -> None:
        """Recompute the folded search text after a name or email change."""
        self.search_key = search_key(self.display_name, self.email)


@expires(
    "unconfirmed MFA set-ups",
    lambda row, now, _: sa.and_(row.pending_expires_at <= now, row.confirmed_at.is_(None)),
)
class TotpCredential(SQLModel, table=True):
    """A user's TOTP secret: pending until two codes confirm it, then active."""

    __tablename__ = "totp_credentials"

    __table_args__ = (
        sa.Index(
            "ix_totp_credentials_pending_expires",
            "pending_expires_at",
            postgresql_where=sa.text("pending_expires_at IS NOT NULL"),
            sqlite_where=sa.text("pending_expires_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", sa_column_kwargs={"unique": True})
    # Fernet token (MultiFernet, key from MFA_ENCRYPTION_KEYS); never the plain secret.
    secret_encrypted: str = Field(max_length=500)
    confirmed_at: datetime | None = Field(default=None, sa_column=utc_column())
    pending_expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Highest time-step ever accepted; codes at or before it are refused.
    last_used_step: int = Field(default=0, sa_type=sa.BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class RecoveryCode(SQLModel, table=True):
    """One single-use recovery code, stored only as a keyed hash."""

    __tablename__ = "recovery_codes"

    __table_args__ = (sa.UniqueConstraint("user_id", "code_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(max_length=128)
    used_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


@expires("pending sign-ins", lambda row, now, _: row.expires_at <= now)
class PendingSignIn(SQLModel, table=True):
    """The password step done, the code step not yet: held on the server.

    The browser holds only a random token (in its session); the row stores its
    hash, expires after 5 minutes and is consumed once.
    """

    __tablename__ = "pending_sign_ins"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int = Field(foreign_key="users.id", index=True)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    consumed_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class ListView(SQLModel, table=True):
    """An admin's saved view of the users list (filters and sort as a query string)."""

    __tablename__ = "list_views"

    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", index=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(max_length=100)
    query: str = Field(default="", max_length=1000)
    shared: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class HeadsUpKind(StrEnum):
    WITHOUT_MFA = "without_mfa"
    WITH_MFA = "with_mfa"


class HeadsUpRule(SQLModel, table=True):
    """The daily heads-up digest for a system's admins."""

    __tablename__ = "heads_up_rules"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="systems.id", sa_column_kwargs={"unique": True})
    kind: str = Field(default=HeadsUpKind.WITHOUT_MFA.value, max_length=20)
    enabled: bool = Field(default=True)
    hour: int = Field(default=7)  # local time of the system
    # None: every active admin. Otherwise a list of admin user ids.
    recipient_ids: list[int] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    send_all_clear: bool = Field(default=False)
    last_run_local_date: date | None = Field(default=None)
    # What the last digest reported (its local date, active users, users with
    # MFA), so that the next one can say what changed since.
    last_digest_on: date | None = Field(default=None)
    last_digest_total: int | None = Field(default=None)
    last_digest_with_mfa: int | None = Field(default=None)


# What the tables need beyond this metadata, for schemas built from it (tests and
# benchmarks call `create_all`; migrations do the same in 0002_admin and 0003_search).
@sa.event.listens_for(SQLModel.metadata, "before_create")
def _create_extensions(_metadata, connection, **_kw) -> None:
    # The trigram operators of ix_users_search_trgm.
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")


@sa.event.listens_for(User.__table__, "after_create")
def _create_user_search_index(_table, connection, **_kw) -> None:
    user_search.create(connection)


@sa.event.listens_for(User.__table__, "before_drop")
def _drop_user_search_index(_table, connection, **_kw) -> None:
    user_search.drop(connection)
