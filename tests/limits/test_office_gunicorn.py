"""The sign-in limits as production runs them: gunicorn with 2 workers on one
PostgreSQL database, the counts in Redis or in the database, behind one
trusted proxy. A firm's colleagues signing in from one office address are
never refused, and the per-account lock counts the wrong passwords of both
workers together (a count per process would need 10 on each).

One server per storage serves every test of this module.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import redis
import requests
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from tests.conftest import CSRF_PATTERN, PASSWORD, private_postgres_database
from tests.servers import free_port, wait_for_port
from webapp import accounts, create_app
from webapp.crypto import encrypt_secret
from webapp.models import TotpCredential, utcnow

ROOT = Path(__file__).resolve().parents[2]
COLLEAGUES = 30
OFFICE = "203.0.113.9"  # the firm's one public address, as its proxy reports it
TARGET = "target@firm.example"
LOCKED = "Too many wrong passwords for this account."
WORKERS = 2


@dataclass
class Served:
    base_url: str
    access_log: Path
    secrets: dict[str, str]  # email -> TOTP key

    def pids_of(self, method: str, path: str, mark: int) -> set[str]:
        """The workers that answered `method path` after `mark` (access log)."""
        lines = self.access_log.read_text().splitlines()[mark:]
        return {line.split()[0] for line in lines if line.split()[1:3] == [method, path]}

    def mark(self) -> int:
        return len(self.access_log.read_text().splitlines())


class Browser:
    """One person's browser. Production cookies are `Secure`, which `requests`
    keeps off plain HTTP; the proxy in front would speak HTTPS, so they are
    carried by hand here."""

    def __init__(self, served: Served, address: str) -> None:
        self.served = served
        self.headers = {"X-Forwarded-For": address}
        self.cookies: dict[str, str] = {}

    def call(self, method: str, path: str, **kw) -> requests.Response:
        response = requests.request(
            method,
            self.served.base_url + path,
            headers=self.headers,
            cookies=self.cookies,
            allow_redirects=False,
            timeout=60,
            **kw,
        )
        self.cookies.update(response.cookies.get_dict())
        return response

    def form(self, path: str) -> str:
        page = self.call("GET", path)
        assert page.status_code == 200, page.text
        match = CSRF_PATTERN.search(page.text)
        return match.group(1) or match.group(2)

    def password(self, email: str, password: str = PASSWORD, token: str | None = None):
        token = token or self.form("/sign-in")
        data = {"csrf_token": token, "email": email, "password": password}
        return self.call("POST", "/sign-in", data=data)

    def code(self, code: str) -> requests.Response:
        token = self.form("/sign-in/verify")
        return self.call("POST", "/sign-in/verify", data={"csrf_token": token, "code": code})


def seed(database_url: str, key: str) -> dict[str, str]:
    engine = sa.create_engine(database_url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    app = create_app("testing", {"DATABASE_URL": database_url, "MFA_ENCRYPTION_KEYS": [key]})
    keys = {}
    with app.app_context(), Session(app.extensions["firmguard_db"]) as session:
        firm = accounts.create_system(session, "Kauri Law", country="NZ", timezone="UTC")
        emails = [f"colleague{n:02d}@firm.example" for n in range(COLLEAGUES)] + [TARGET]
        for email in emails:
            user = accounts.create_user(
                session, firm, email=email, name=email.split("@")[0], password=PASSWORD
            )
            keys[email] = pyotp.random_base32(32)
            session.add(
                TotpCredential(
                    user_id=user.id,
                    secret_encrypted=encrypt_secret(keys[email]),
                    confirmed_at=utcnow(),
                    last_used_step=0,
                )
            )
            user.mfa_enabled, user.mfa_enabled_at = True, utcnow()
        session.commit()
    app.extensions["firmguard_db"].dispose()
    return keys


@pytest.fixture(scope="module", params=["redis", "database"])
def served(request, tmp_path_factory) -> Iterator[Served]:
    """gunicorn, 2 workers, production settings (cheap argon2 to stay quick)."""
    storage = request.param
    work = tmp_path_factory.mktemp(f"office-{storage}")
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "FIRMGUARD_ENV": "production",
        "FIRMGUARD_INSTANCE": str(work),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "MFA_ENCRYPTION_KEYS": key,
        "TRUSTED_PROXIES": "1",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "1024",
        "ARGON2_PARALLELISM": "1",
    }
    if storage == "redis":
        server = request.getfixturevalue("limits_redis")
        redis.Redis.from_url(server.url).flushdb()
        env["REDIS_URL"] = server.url
    port = free_port()
    access_log = work / "access.log"
    with private_postgres_database(f"firmguard_office_{storage}") as database_url:
        env["DATABASE_URL"] = database_url
        keys = seed(database_url, key)
        with (work / "gunicorn.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS)]
                + ["--bind", f"127.0.0.1:{port}", "--no-control-socket"]
                + ["--access-logfile", str(access_log), "--access-logformat", "%(p)s %(m)s %(U)s"]
                + ["wsgi:app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(port, timeout=60)
            yield Served(f"http://127.0.0.1:{port}", access_log, keys)
        finally:
            process.terminate()
            process.wait(timeout=30)


def signs_in(served: Served, email: str) -> bool:
    """The whole sign-in of one colleague from the office: password, code, a page."""
    browser = Browser(served, OFFICE)
    password = browser.password(email)
    assert password.status_code == 302, password.text
    assert password.headers["Location"] == "/sign-in/verify"
    code = browser.code(pyotp.TOTP(served.secrets[email]).now())
    assert code.status_code == 302, code.text
    return browser.call("GET", "/profile").status_code == 200


def test_colleagues_from_one_office_address_all_sign_in(served):
    mark = served.mark()
    emails = [email for email in served.secrets if email != TARGET]
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(lambda email: signs_in(served, email), emails))
    # Both workers did their share, so neither kept a count of its own.
    assert len(served.pids_of("POST", "/sign-in", mark)) == WORKERS


def test_the_account_lock_counts_both_workers_wrong_passwords(served):
    mark = served.mark()
    together = threading.Barrier(2)

    def guesses(thread: int) -> list[int]:
        answers = []
        for n in range(5):
            browser = Browser(served, f"198.51.100.{thread * 10 + n}")
            token = browser.form("/sign-in")
            together.wait(timeout=30)  # two in flight: one on each worker
            answers.append(browser.password(TARGET, "wrong password", token).status_code)
        return answers

    with ThreadPoolExecutor(2) as pool:
        answers = [status for result in pool.map(guesses, range(2)) for status in result]
    assert answers == [422] * 10
    assert len(served.pids_of("POST", "/sign-in", mark)) == WORKERS

    # Locked on every worker: the right password is refused, from anywhere.
    for address in ("192.0.2.1", "192.0.2.2", OFFICE, "192.0.2.3"):
        refused = Browser(served, address).password(TARGET)
        assert refused.status_code == 429
        assert LOCKED in refused.text
