"""Server time of the sign-in code check, next to a plain Flask route.

Serves the app (werkzeug, threaded, on 127.0.0.1) with a WSGI middleware that
times each request inside the server, from the call to the end of the body.
Each round signs a fresh client in with the password, then POSTs the right
code to /sign-in/verify (the measured request); the replay guard is reset
between rounds outside the timing, since a code is accepted only once.
The plain route is a bare `return "ok"` on the same app and server.

    .venv/bin/python bench/code_check.py [--rounds 200]
    BENCH_DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/bench ... (default: SQLite)

Not part of the test suite.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import pyotp
import sqlalchemy as sa
from sqlmodel import Session, SQLModel
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import accounts, create_app  # noqa: E402
from webapp.crypto import encrypt_secret  # noqa: E402
from webapp.models import TotpCredential, utcnow  # noqa: E402

PASSWORD = "bench password 1234"
SECRET = pyotp.random_base32(32)
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class ServerTimer:
    """WSGI middleware: seconds spent in the server per (method, path)."""

    def __init__(self, app) -> None:
        self.app = app
        self.times: dict[tuple[str, str], list[float]] = defaultdict(list)

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        body = self.app(environ, start_response)
        try:
            yield from body
        finally:
            if hasattr(body, "close"):
                body.close()
            key = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
            self.times[key].append(time.perf_counter() - start)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())


def call(opener, url: str, data: dict | None = None) -> tuple[int, str]:
    encoded = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(url, data=encoded) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:  # 3xx (not followed) and errors
        return error.code, error.read().decode()


def build_app(database_url: str, mail_dir: str):
    app = create_app(
        "development",
        {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": False, "MAIL_FILE_DIR": mail_dir},
    )

    @app.route("/bench/plain")
    def plain():
        return "ok"

    engine = app.extensions["firmguard_db"]
    SQLModel.metadata.create_all(engine)
    with app.app_context(), Session(engine) as session:
        system = accounts.create_system(session, "Bench Firm", country="GB", timezone="UTC")
        user = accounts.create_user(
            session, system, email="bench@example.com", name="Bench", password=PASSWORD
        )
        now = utcnow()
        session.add(
            TotpCredential(
                user_id=user.id,
                secret_encrypted=encrypt_secret(SECRET),
                confirmed_at=now,
                last_used_step=0,
            )
        )
        user.mfa_enabled, user.mfa_enabled_at = True, now
        session.commit()
        return app, engine, user.id


def summary(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp}/bench.sqlite"
        app, engine, user_id = build_app(url, f"{tmp}/mail")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no per-request log lines
        timer = ServerTimer(app.wsgi_app)
        app.wsgi_app = timer
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        reset = sa.text("UPDATE totp_credentials SET last_used_step = 0 WHERE user_id = :id")
        try:
            for _ in range(args.rounds):
                browser = client()
                _, page = call(browser, f"{base}/sign-in")
                token = CSRF.search(page).group(1)
                status, _ = call(
                    browser,
                    f"{base}/sign-in",
                    {"email": "bench@example.com", "password": PASSWORD, "csrf_token": token},
                )
                assert status == 302, status
                _, page = call(browser, f"{base}/sign-in/verify")
                token = CSRF.search(page).group(1)
                with engine.begin() as connection:
                    connection.execute(reset, {"id": user_id})
                status, _ = call(
                    browser,
                    f"{base}/sign-in/verify",
                    {"code": pyotp.TOTP(SECRET).now(), "csrf_token": token},
                )
                assert status == 302, f"code check answered {status}"
                call(browser, f"{base}/bench/plain")
        finally:
            server.shutdown()
        backend = url.split(":", 1)[0]
        print(f"Database: {backend}; server: werkzeug threaded; {args.rounds} rounds")
        print(
            "POST /sign-in/verify (code check):", summary(timer.times[("POST", "/sign-in/verify")])
        )
        print("GET  /bench/plain (plain route):  ", summary(timer.times[("GET", "/bench/plain")]))


if __name__ == "__main__":
    main()
