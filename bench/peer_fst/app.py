"""The peer: a minimal Flask-Security-Too app with TOTP two-factor required.

Configured as the library ships, except what a fair comparison needs: SQLite in
WAL mode (as Firmguard runs it), the same argon2id parameters as Firmguard's
run, and a protected page at /profile. Settings come from the environment
(PEER_* and ARGON2_*), set by bench/signin.py.
"""

from __future__ import annotations

import os

from flask import Flask, render_template_string
from flask_security import Security, SQLAlchemyUserDatastore, auth_required, current_user
from flask_security.models import fsqla_v3 as fsqla
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

db = SQLAlchemy()
fsqla.FsModels.set_db_info(db)


class Role(db.Model, fsqla.FsRoleMixin):
    pass


class User(db.Model, fsqla.FsUserMixin):
    pass


class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):
    """Unused here, but the user model's relationships name it."""


PROFILE = """<!doctype html><title>Profile</title>
<h1>Profile</h1><p>Signed in as {{ user.email }}</p>"""


def argon2_options() -> dict:
    """passlib's argon2id options from the same ARGON2_* variables Firmguard reads."""
    return {
        "argon2__type": "ID",
        "argon2__time_cost": int(os.environ.get("ARGON2_TIME_COST", "3")),
        "argon2__memory_cost": int(os.environ.get("ARGON2_MEMORY_COST", "65536")),
        "argon2__parallelism": int(os.environ.get("ARGON2_PARALLELISM", "4")),
    }


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ["PEER_SECRET_KEY"],
        SECURITY_PASSWORD_SALT=os.environ["PEER_PASSWORD_SALT"],
        SQLALCHEMY_DATABASE_URI=os.environ["PEER_DATABASE_URL"],
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 30}},
        SECURITY_PASSWORD_HASH="argon2",
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS=argon2_options(),
        SECURITY_TWO_FACTOR=True,
        SECURITY_TWO_FACTOR_REQUIRED=True,
        SECURITY_TWO_FACTOR_ENABLED_METHODS=["authenticator"],
        SECURITY_TOTP_SECRETS={"1": os.environ["PEER_TOTP_KEY"]},
        SECURITY_TOTP_ISSUER="Peer",
        SECURITY_POST_LOGIN_VIEW="/profile",
    )
    db.init_app(app)
    with app.app_context():
        event.listen(db.engine, "connect", _sqlite_pragmas)
    app.security = Security(app, SQLAlchemyUserDatastore(db, User, Role))

    @app.route("/profile")
    @auth_required("session")
    def profile():
        return render_template_string(PROFILE, user=current_user)

    return app


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """The same SQLite settings as Firmguard's engine (webapp/db.py)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
