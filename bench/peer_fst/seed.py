"""Seed the peer with N users whose TOTP is set up, through Flask-Security's own API.

Run inside the peer's venv with the server's environment:
    python bench/peer_fst/seed.py --users N --password P --out users.json
Writes each user's email and base32 TOTP key (so the driver can compute codes),
and the stored password hash's parameters.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app import User, create_app, db  # noqa: E402
from flask_security import hash_password  # noqa: E402


def seed(count: int, password: str) -> dict:
    app = create_app()
    with app.app_context():
        db.create_all()
        security = app.security
        totp = security.totp_factory
        # One argon2 hash shared by every user (same password): the verify cost
        # per sign-in is what matters, and N hashes would only slow the seeding.
        password_hash = hash_password(password)
        users = []
        for index in range(count):
            email = f"user{index:05d}@peer.example"
            user = security.datastore.create_user(email=email, password=password_hash)
            secret = totp.generate_totp_secret()
            user.tf_primary_method = "authenticator"
            user.tf_totp_secret = secret
            users.append({"email": email, "secret": totp.get_totp_b32_key(secret)})
        db.session.commit()
        stored = db.session.scalar(db.select(User.password).limit(1))
    return {"password_hash_params": stored.split("$")[1:4], "users": users}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.write_text(json.dumps(seed(args.users, args.password)))


if __name__ == "__main__":
    main()
