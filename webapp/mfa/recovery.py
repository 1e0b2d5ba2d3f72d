"""Recovery codes: 10 single-use codes per user, stored only as keyed hashes,
shown once when MFA is turned on (with any first method) or renewed."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlmodel import Session, delete, func, select

from webapp.crypto import hash_recovery_code
from webapp.models import RecoveryCode, User

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: the codes are read off paper and typed back.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_PATTERN = re.compile(rf"^[{RECOVERY_ALPHABET}]{{10}}$")


def normalize_recovery_code(code: str) -> str:
    """Recovery codes are typed with or without the dash, in any case."""
    return code.replace("-", "").replace(" ", "").strip().lower()


def is_recovery_code_shaped(code: str) -> bool:
    return bool(RECOVERY_CODE_PATTERN.match(normalize_recovery_code(code)))


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def replace_recovery_codes(session: Session, user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with 10 new ones (stored hashed); return them."""
    session.exec(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        session.add(
            RecoveryCode(user_id=user.id, code_hash=hash_recovery_code(code), created_at=now)
        )
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).one()
