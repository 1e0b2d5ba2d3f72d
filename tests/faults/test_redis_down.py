"""Redis stopped under a running app: sign-in with a code still works (the
failure counts fall back to the database, no page 500s), an action that emails succeeds
at once and leaves its outbox row waiting, and once Redis is back the outbox
sweep, run by a real worker, delivers it.
"""

from __future__ import annotations

import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from tests import mfa_support
from tests.conftest import sign_in
from tests.heads_up_helpers import outbox
from tests.jobs.conftest import wait_until
from tests.mfa_support import enable_mfa, password_step, signed_in, submit_code
from webapp.models import EmailStatus
from webapp.tasks import sweep_outbox

clock = mfa_support.clock  # the fixture, under its own name

# A request must not wait on broker retries: well under the time a user waits.
FAST = 3.0

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex")


@pytest.fixture
def app_overrides(private_redis):
    return {
        "REDIS_URL": private_redis.url,
        "RATELIMIT_ENABLED": True,
    }


class TimedClient:
    """Wraps a test client: records each response's status and the slowest request."""

    def __init__(self, client) -> None:
        self.client = client
        self.statuses: list[int] = []
        self.slowest = 0.0

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name not in {"get", "post", "post_form"}:
            return method

        def timed(*args, **kw):
            started = time.monotonic()
            response = method(*args, **kw)
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.statuses.append(response.status_code)
            return response

        return timed


def sign_in_with_code(client, clock) -> None:
    password_step(client, "ann@example.com")
    assert submit_code(client, clock.code()).status_code == 302
    assert signed_in(client)
    clock.advance(seconds=30)  # the next sign-in needs a fresh code


def test_sign_in_and_email_survive_redis_going_away(
    app, factory, session, clock, private_redis, mailbox
):
    for email in ("ann@example.com", "bob@example.com"):
        enable_mfa(app, session, factory.user(email=email))
    store = redis.Redis.from_url(private_redis.url)
    assert sign_in(app.test_client(), "ann@example.com", password="wrong").status_code == 422
    assert store.keys("firmguard:failures:*"), "the failure counts were not kept in Redis"
    sign_in_with_code(app.test_client(), clock)

    private_redis.stop()
    client = TimedClient(app.test_client())
    sign_in_with_code(client, clock)
    response = client.post_form(
        "/profile/mfa/deactivate", {"code": clock.code()}, token_from="/profile"
    )
    assert response.status_code == 302
    assert "Multi-factor authentication is now off." in client.get("/profile").get_data(
        as_text=True
    )
    # Wrong codes still lock Bob's codes (in the database, and he is emailed) ...
    attacker = TimedClient(app.test_client())
    password_step(attacker, "bob@example.com")
    guesses = [submit_code(attacker, "000000") for _ in range(5)]
    assert [guess.status_code for guess in guesses] == [422] * 4 + [429]
    assert "Too many wrong codes" in guesses[-1].get_data(as_text=True)
    # ... and the sign-in limits still hold, counted in the database: after 10
    # wrong passwords in a row Bob's password step is locked (he is emailed).
    flood = [sign_in(attacker, "bob@example.com", password="wrong") for _ in range(11)]
    assert [answer.status_code for answer in flood] == [422] * 10 + [429]
    assert "Too many wrong passwords" in flood[-1].get_data(as_text=True)
    assert all(status < 500 for status in client.statuses + attacker.statuses)
    assert max(client.slowest, attacker.slowest) < FAST

    # Ann's "MFA is off" and Bob's lockout notice wait in the outbox.
    waiting = outbox(session)
    assert sorted(row.kind for row in waiting) == [
        "mfa_disabled",
        "mfa_locked",
        "password_locked",
    ]
    assert {row.status for row in waiting} == {EmailStatus.PENDING.value}
    assert mailbox() == []

    private_redis.start()
    celery_app = app.extensions["celery"]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        sweep_outbox.delay()
        wait_until(lambda: len(mailbox()) == 3, what="the waiting emails sent by the sweep")
    session.expire_all()
    assert {row.status for row in outbox(session)} == {EmailStatus.SENT.value}
    assert sorted((message["To"], message["Subject"]) for message in mailbox()) == [
        ("ann@example.com", "Multi-factor authentication is off"),
        ("bob@example.com", "Someone tried to sign in to your account"),
        ("bob@example.com", "Your sign-in codes were locked after wrong attempts"),
    ]
