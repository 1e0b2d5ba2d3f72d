"""Helpers for the MFA tests: a controllable clock, codes, and MFA users seeded
the way the benchmarks seed them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from tests.conftest import sign_in
from webapp.auth import routes as auth_routes
from webapp.crypto import encrypt_secret
from webapp.mfa import enforcement, totp
from webapp.mfa import routes as mfa_routes
from webapp.models import TotpCredential, User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class Clock:
    """The time the app's routes see; tests move it instead of sleeping."""

    def __init__(self) -> None:
        # Five seconds into a fresh time-step, near the real time (sessions use real time).
        start = (int(time.time()) // totp.PERIOD + 1) * totp.PERIOD + 5
        self.now = datetime.fromtimestamp(start, tz=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def code(self, secret: str = SECRET, steps: int = 0) -> str:
        """The code `secret` shows `steps` time-steps from now."""
        return pyotp.TOTP(secret).at(self.now + timedelta(seconds=steps * totp.PERIOD))


@pytest.fixture
def clock(monkeypatch) -> Clock:
    current = Clock()
    for module in (auth_routes, mfa_routes, enforcement):
        monkeypatch.setattr(module, "utcnow", current)
    return current


def enable_mfa(app, session, user, secret: str = SECRET, last_used_step: int = 0) -> None:
    """Seed a user with MFA exactly as the benchmarks do."""
    now = datetime.now(UTC)
    with app.app_context():
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=encrypt_secret(secret),
                confirmed_at=now,
                last_used_step=last_used_step,
            )
        )
    row = session.get(User, user.id)
    row.mfa_enabled, row.mfa_enabled_at = True, now
    session.add(row)
    session.commit()


def submit_code(client, code: str, path: str = "/sign-in/verify", **kw):
    return client.post_form(path, {"code": code}, **kw)


def password_step(client, email: str, **kw):
    response = sign_in(client, email, **kw)
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in/verify"
    return response


def signed_in(client) -> bool:
    return client.get("/profile").status_code == 200
