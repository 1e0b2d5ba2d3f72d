"""Secrets at rest: TOTP secret encryption with key rotation, password and
recovery-code hashing, and opaque tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


def _fernet() -> MultiFernet:
    """MultiFernet over MFA_ENCRYPTION_KEYS: the first key encrypts, all decrypt."""
    keys = tuple(current_app.config["MFA_ENCRYPTION_KEYS"])
    cache = current_app.extensions.setdefault("firmguard_fernet", {})
    if keys not in cache:
        cache[keys] = MultiFernet([Fernet(key) for key in keys])
    return cache[keys]


def encrypt_secret(secret: str) -> str:
    """Encrypt a TOTP secret for storage."""
    return _fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    """Decrypt a stored TOTP secret; raises InvalidToken if no key fits."""
    return _fernet().decrypt(token.encode()).decode()


def reencrypt_secret(token: str) -> str:
    """Re-encrypt a stored secret under the newest key (for `keys rotate`)."""
    return _fernet().rotate(token.encode()).decode()


def _password_hasher() -> PasswordHasher:
    config = current_app.config
    params = (
        config["ARGON2_TIME_COST"],
        config["ARGON2_MEMORY_COST"],
        config["ARGON2_PARALLELISM"],
    )
    cache = current_app.extensions.setdefault("firmguard_argon2", {})
    if params not in cache:
        cache[params] = PasswordHasher(
            time_cost=params[0], memory_cost=params[1], parallelism=params[2]
        )
    return cache[params]


def hash_password(password: str) -> str:
    """Hash a password with argon2id under the configured parameters."""
    return _password_hasher().hash(password)


# The password of someone who has none yet (provisioned by SCIM, awaiting an
# invitation): no password matches it.
NO_PASSWORD = "!"  # noqa: S105 (a marker, not a password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password. With no hash (unknown user, or no password yet) a
    dummy hash is checked, so every case takes the same time and gives the
    same answer.
    """
    hasher = _password_hasher()
    usable = password_hash is not None and password_hash != NO_PASSWORD
    target = password_hash if usable else _dummy_hash()
    try:
        return hasher.verify(target, password) and usable
    except (VerificationError, InvalidHashError):
        return False


def rehash_if_outdated(password_hash: str, password: str) -> str | None:
    """A new hash of `password`, just verified against `password_hash`, when that
    hash was made with other argon2 parameters than the configured ones (so
    raising the cost reaches every account at its next sign-in); else None."""
    hasher = _password_hasher()
    return hasher.hash(password) if hasher.check_needs_rehash(password_hash) else None


def _dummy_hash() -> str:
    cache = current_app.extensions.setdefault("firmguard_dummy_hash", {})
    key = id(_password_hasher())
    if key not in cache:
        cache[key] = _password_hasher().hash(secrets.token_urlsafe(16))
    return cache[key]


def new_token() -> str:
    """A random, URL-safe token (256 bits)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 of a high-entropy token, for storing it without storing it."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_recovery_code(code: str) -> str:
    """Keyed hash of a recovery code (the codes are random; the key is a pepper)."""
    normalized = code.replace("-", "").replace(" ", "").lower()
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, normalized.encode(), hashlib.sha256).hexdigest()


__all__ = [
    "NO_PASSWORD",
    "InvalidToken",
    "decrypt_secret",
    "encrypt_secret",
    "hash_password",
    "hash_recovery_code",
    "new_token",
    "reencrypt_secret",
    "rehash_if_outdated",
    "token_hash",
    "verify_password",
]
