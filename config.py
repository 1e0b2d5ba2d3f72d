"""Firmguard configuration, read from the environment.

`DevConfig` works with no environment at all (SQLite under the instance
folder, no Redis, mail written to its `mail/`). `ProdConfig` refuses to start
with the development secrets. `TestConfig` is what the test-suite starts from.

The instance folder is `FIRMGUARD_INSTANCE`, else `instance/` in the current
directory: the repository's own `instance/` when run from a clone's root, and
a folder of the operator's choosing for an installed copy (whose code lives in
site-packages, where nothing should be written).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

# Well-known development values. They are public (they are in this file), so
# ProdConfig refuses to run with either of them.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 (public by design)
DEV_ENCRYPTION_KEY = "ZGV2LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24tMDAwMDA="


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _keys(value: str) -> list[str]:
    return [key.strip() for key in value.split(",") if key.strip()]


# Environment variable -> (setting, parser). The README's configuration table
# lists the same names.
ENVIRONMENT = {
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("DATABASE_URL", str),
    "REDIS_URL": ("REDIS_URL", str),
    "MFA_ENCRYPTION_KEYS": ("MFA_ENCRYPTION_KEYS", _keys),
    "BASE_URL": ("BASE_URL", str),
    "WEBAUTHN_RP_ID": ("WEBAUTHN_RP_ID", str),
    "MAIL_SERVER": ("MAIL_SERVER", str),
    "MAIL_PORT": ("MAIL_PORT", int),
    "MAIL_USERNAME": ("MAIL_USERNAME", str),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", _bool),
    "MAIL_DEFAULT_SENDER": ("MAIL_DEFAULT_SENDER", str),
    "MAIL_FILE_DIR": ("MAIL_FILE_DIR", str),
    "ARGON2_TIME_COST": ("ARGON2_TIME_COST", int),
    "ARGON2_MEMORY_COST": ("ARGON2_MEMORY_COST", int),
    "ARGON2_PARALLELISM": ("ARGON2_PARALLELISM", int),
    "RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", _bool),
    "TRUSTED_PROXIES": ("TRUSTED_PROXIES", int),
    "MFA_REMINDER_INTERVAL_DAYS": ("MFA_REMINDER_INTERVAL_DAYS", int),
    "SSO_ALLOW_HTTP_ISSUERS": ("SSO_ALLOW_HTTP_ISSUERS", _bool),
    "LOG_FORMAT": ("LOG_FORMAT", str),
    "OUTBOX_BODY_DAYS": ("OUTBOX_BODY_DAYS", int),
    "OUTBOX_ROW_DAYS": ("OUTBOX_ROW_DAYS", int),
    "AUDIT_RETENTION_DAYS": ("AUDIT_RETENTION_DAYS", int),
    "RETENTION_BATCH_SIZE": ("RETENTION_BATCH_SIZE", int),
    "SCIM_REQUESTS_PER_MINUTE": ("SCIM_REQUESTS_PER_MINUTE", int),
}


def instance_folder(environ) -> Path:
    """Where the SQLite default and the mail files go (see the module's docstring)."""
    return Path(environ.get("FIRMGUARD_INSTANCE") or Path.cwd() / "instance").resolve()


def settings_from_environment(environ) -> dict:
    """Return the settings that `environ` sets, parsed (empty values are ignored)."""
    settings = {}
    for variable, (setting, parse) in ENVIRONMENT.items():
        value = environ.get(variable, "")
        if value != "":
            settings[setting] = parse(value)
    return settings


class Config:
    """Defaults shared by every environment (development values)."""

    ENV_NAME = "base"
    READS_ENVIRONMENT = True
    SECRET_KEY = DEV_SECRET_KEY
    # Empty: `firmguard.sqlite` in the instance folder (`finalize`).
    DATABASE_URL = ""
    REDIS_URL = ""
    MFA_ENCRYPTION_KEYS = [DEV_ENCRYPTION_KEY]

    # Public base URL used in emails (links to the admin list and My Profile).
    BASE_URL = "http://127.0.0.1:5000"
    # Passkeys: the WebAuthn relying party id (empty: BASE_URL's host). Ceremonies
    # are accepted from BASE_URL's origin only; an IP address cannot be one.
    WEBAUTHN_RP_ID = ""

    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_USE_TLS = False
    MAIL_DEFAULT_SENDER = "Firmguard <no-reply@firmguard.local>"
    # Where mail goes when MAIL_SERVER is unset: one .eml file per message
    # (empty: `mail/` in the instance folder).
    MAIL_FILE_DIR = ""

    # Sessions: 30 minutes idle (the signed cookie carries its timestamp and is
    # refused server-side once older), 12 hours absolute, no remember-me.
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_ABSOLUTE_LIFETIME = timedelta(hours=12)
    SESSION_REFRESH_EACH_REQUEST = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "firmguard_session"

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    MAX_CONTENT_LENGTH = 64 * 1024

    # Password hashing (argon2id), RFC 9106's second recommended option.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_COST = 64 * 1024
    ARGON2_PARALLELISM = 4

    # Pending MFA step after the password, and pending enrolment secret.
    MFA_PENDING_SIGN_IN_TTL = timedelta(minutes=5)
    MFA_PENDING_ENROLMENT_TTL = timedelta(minutes=10)
    # How long a "Confirm it's you" proof lets sensitive actions through (README, "Step-up").
    STEP_UP_TTL = timedelta(minutes=10)

    # The sign-in failure limits (README, "Sign-in limits"): per account and per
    # address, counted in Redis when REDIS_URL is set, else in the database.
    RATELIMIT_ENABLED = True
    # How many reverse proxies stand in front of the app: 0 ignores
    # X-Forwarded-For; N takes the client's address from what the Nth proxy saw.
    TRUSTED_PROXIES = 0

    # SCIM provisioning: requests a token may make per minute (then 429). Entra ID
    # and Okta stay far below this; a runaway client does not.
    SCIM_REQUESTS_PER_MINUTE = 600

    # Compliance reminders: at most one per user in this many days.
    MFA_REMINDER_INTERVAL_DAYS = 7

    # Single sign-on: an OpenID provider's Issuer URL must be https, except in
    # development and tests (a provider on this machine). Refused in production.
    SSO_ALLOW_HTTP_ISSUERS = False

    # Log lines: "plain" text or "json" (one object per line).
    LOG_FORMAT = "plain"

    # Retention (README, "Retention"): a sent email's bodies are dropped after
    # OUTBOX_BODY_DAYS and its row (kept for its dedupe key) after
    # OUTBOX_ROW_DAYS; audit events are deleted after AUDIT_RETENTION_DAYS
    # (7 years). Rows per retention statement: each batch is its own short
    # transaction.
    OUTBOX_BODY_DAYS = 30
    OUTBOX_ROW_DAYS = 400
    AUDIT_RETENTION_DAYS = 7 * 365
    RETENTION_BATCH_SIZE = 5000


# How long a queued email's dedupe key must outlive its queuing, per kind: a
# reminder's interval (counted in local days) and a digest's local date (one
# day, reached up to a day later in UTC by the firms east of it).
def dedupe_windows(config) -> dict[str, int]:
    return {"reminders": config.get("MFA_REMINDER_INTERVAL_DAYS", 7), "digests": 2}


def check_retention(config) -> None:
    """Refuse retention settings that would lose what the app relies on."""
    for name in ("OUTBOX_BODY_DAYS", "OUTBOX_ROW_DAYS", "AUDIT_RETENTION_DAYS"):
        if not isinstance(config.get(name), int) or config[name] < 0:
            raise RuntimeError(f"{name} must be a whole number of days, 0 or more.")
    if config.get("RETENTION_BATCH_SIZE", 0) < 1:
        raise RuntimeError("RETENTION_BATCH_SIZE must be 1 or more.")
    kind, window = max(dedupe_windows(config).items(), key=lambda item: item[1])
    if config["OUTBOX_ROW_DAYS"] <= window:
        raise RuntimeError(
            f"OUTBOX_ROW_DAYS ({config['OUTBOX_ROW_DAYS']}) must be longer than every "
            f"dedupe window: {kind} are deduplicated over {window} days, so an email "
            "could be sent twice once its row is gone."
        )


def finalize(config: dict, instance: Path | None = None) -> None:
    """Derive the settings that depend on others, then validate (production)."""
    instance = instance or instance_folder(os.environ)
    config.setdefault("DATABASE_URL", "")
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{instance / 'firmguard.sqlite'}"
    if not config.get("MAIL_FILE_DIR"):
        config["MAIL_FILE_DIR"] = str(instance / "mail")
    if config.get("LOG_FORMAT", "plain") not in {"plain", "json"}:
        raise RuntimeError("LOG_FORMAT must be 'plain' or 'json'.")
    check_retention(config)
    redis_url = config.get("REDIS_URL") or ""
    config.setdefault(
        "CELERY",
        {
            "broker_url": redis_url or "memory://",
            "result_backend": redis_url or None,
            # Without a broker, tasks asked for by a request run in-process, and
            # `python -m jobs.embedded` runs the beat schedule (see README).
            "task_always_eager": not redis_url,
            "task_ignore_result": True,
            "timezone": "UTC",
            "broker_connection_retry_on_startup": True,
            # acks_late tasks go back to the queue if their worker dies, and a
            # worker holds one unacknowledged message at a time.
            "task_reject_on_worker_lost": True,
            "worker_prefetch_multiplier": 1,
            # A broker outage fails `delay()` fast instead of stalling a request.
            "broker_transport_options": {"max_retries": 1, "socket_connect_timeout": 2},
            "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0},
        },
    )
    if config.get("ENV_NAME") == "production":
        check_production(config)


# A random key of 32+ characters from any generator in the README has far more
# distinct characters than this; "aaaa…" or "changeme" repeated has fewer.
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 16


def check_production(config) -> None:
    """Refuse to start production with a guessable secret or a development setup."""
    secret = config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET_KEY:
        raise RuntimeError(
            "SECRET_KEY is the public development value: set a random one "
            f"of {MIN_SECRET_LENGTH}+ characters (README, \"Production\")."
        )
    if len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < MIN_SECRET_DISTINCT:
        raise RuntimeError(
            f"SECRET_KEY must be a random value of {MIN_SECRET_LENGTH}+ characters with at "
            f"least {MIN_SECRET_DISTINCT} different characters (this one has {len(secret)} "
            f"characters, {len(set(secret))} different); README, \"Production\"."
        )
    keys = config.get("MFA_ENCRYPTION_KEYS") or []
    if not keys or DEV_ENCRYPTION_KEY in keys:
        raise RuntimeError(
            "MFA_ENCRYPTION_KEYS must be set and must not hold the public development key "
            "(README, \"Production\", says how to make a Fernet key)."
        )
    if config.get("DATABASE_URL", "").startswith("sqlite"):
        raise RuntimeError(
            "Production needs PostgreSQL: set DATABASE_URL to a postgresql+psycopg:// URL "
            "(SQLite is for development and tests)."
        )
    if config.get("SSO_ALLOW_HTTP_ISSUERS"):
        raise RuntimeError("SSO_ALLOW_HTTP_ISSUERS must stay off in production.")


class DevConfig(Config):
    """Local development: works with no environment at all."""

    ENV_NAME = "development"
    SSO_ALLOW_HTTP_ISSUERS = True


class TestConfig(Config):
    """The test-suite's base; tests override DATABASE_URL and paths."""

    ENV_NAME = "testing"
    READS_ENVIRONMENT = False
    TESTING = True
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    RATELIMIT_ENABLED = False
    SSO_ALLOW_HTTP_ISSUERS = True


class ProdConfig(Config):
    """Production: secure cookies, and no development secrets."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-session"
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {"development": DevConfig, "testing": TestConfig, "production": ProdConfig}


def config_for(name: str) -> type[Config]:
    """Return the config class called `name`."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"Unknown FIRMGUARD_ENV {name!r}; use one of {sorted(CONFIGS)}"
        ) from None
