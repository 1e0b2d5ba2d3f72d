"""Helpers for the MFA tests: a controllable clock, codes, and MFA users seeded
the way the benchmarks seed them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine

from tests.conftest import sign_in
from webapp.crypto import encrypt_secret
from webapp.mfa import totp
from webapp.models import TotpCredential, User

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class Clock:
    """The tests' one clock: the time the whole app sees (time-machine), moved by
    the test instead of sleeping. Without the fixture, just a start time."""

    def __init__(self) -> None:
        # Five seconds into a fresh time-step, near the real time.
        start = (int(time.time()) // totp.PERIOD + 1) * totp.PERIOD + 5
        self._now = datetime.fromtimestamp(start, tz=UTC)
        self.traveller = None

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, moment: datetime) -> None:
        self._now = moment
        if self.traveller is not None:
            self.traveller.move_to(moment)

    def advance(self, **delta) -> datetime:
        self.now = self._now + timedelta(**delta)
        return self.now

    def code(self, secret: str = SECRET, steps: int = 0) -> str:
        """The code `secret` shows `steps` time-steps from now."""
        return pyotp.TOTP(secret).at(self.now + timedelta(seconds=steps * totp.PERIOD))


@pytest.fixture
def clock() -> Iterator[Clock]:
    current = Clock()
    with time_machine.travel(current.now, tick=False) as traveller:
        current.traveller = traveller
        yield current


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
    row.mfa_enabled, row.mfa_enabled_at, row.mfa_app = True, now, True
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
