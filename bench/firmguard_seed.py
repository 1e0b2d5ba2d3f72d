"""Seed Firmguard for the benchmarks: one system with N users whose TOTP is set up.

Run inside Firmguard's venv, from the repository root, with the server's
environment (DATABASE_URL, ARGON2_*, …):
    python bench/firmguard_seed.py --users N [--admins K] [--without-mfa M] --out users.json
Applies the migrations, then writes each user's email, role and base32 TOTP key
(so the driver can compute codes), and the stored password hash's parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyotp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command as alembic_command  # noqa: E402
from passkey_keys import cose_public_key, credential_of  # noqa: E402

from webapp import accounts, create_app  # noqa: E402
from webapp.cli import alembic_config  # noqa: E402
from webapp.crypto import encrypt_secret, hash_password  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Role, TotpCredential, User, utcnow  # noqa: E402
from webapp.passkeys.models import Passkey  # noqa: E402

FIRST_NAMES = ["Aroha", "Zoë", "José", "Mere", "Liam", "Siobhán", "Priya", "Tane", "Ana", "Ben"]
LAST_NAMES = ["Ngata", "Brown", "Álvarez", "Tūhoe", "Chen", "O'Leary", "Patel", "Smith"]


def seed(users: int, admins: int, without_mfa: int, password: str) -> dict:
    app = create_app()
    with app.app_context():
        alembic_command.upgrade(alembic_config(), "heads")
        session = db.session
        system = accounts.create_system(
            session, "Bench Law", country="GB", timezone="Europe/London", accounting="none"
        )
        # One argon2 hash shared by every user (same password, same parameters as
        # webapp.crypto): the verify cost per sign-in is what is measured, and N
        # hashes would only slow the seeding.
        password_hash = hash_password(password)
        now = utcnow()
        seeded = []
        for index in range(users + without_mfa):
            name = f"{FIRST_NAMES[index % 10]} {LAST_NAMES[index % 8]} {index:05d}"
            user = User(
                system_id=system.id,
                email=f"user{index:05d}@firmguard.example",
                display_name=name,
                password_hash=password_hash,
                role=(Role.ADMIN if index < admins else Role.USER).value,
            )
            user.refresh_search_key()
            secret = None
            if index < users:
                secret = pyotp.random_base32(32)
                user.mfa_enabled = True
                user.mfa_enabled_at = now
                user.mfa_app = True
                user.passkey_count = 1
            session.add(user)
            session.flush()
            if secret:
                session.add(
                    TotpCredential(
                        user_id=user.id,
                        secret_encrypted=encrypt_secret(secret),
                        confirmed_at=now,
                        last_used_step=0,
                    )
                )
                # And a passkey (for "Sign in with a passkey"), its key derived from
                # the email by bench/passkey_keys.py on both sides.
                credential_id, user_handle, key = credential_of(user.email)
                session.add(
                    Passkey(
                        user_id=user.id,
                        credential_id=credential_id,
                        public_key=cose_public_key(key),
                        user_handle=user_handle,
                        name="Bench key",
                        user_verified=True,
                    )
                )
            seeded.append({"email": user.email, "role": user.role, "secret": secret})
        session.commit()
    return {"password_hash_params": password_hash.split("$")[1:4], "users": seeded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True, help="users with MFA on")
    parser.add_argument("--admins", type=int, default=0, help="how many of them are admins")
    parser.add_argument("--without-mfa", type=int, default=0, help="extra users without MFA")
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = seed(args.users, args.admins, args.without_mfa, args.password)
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
