"""Helpers shared by the sign-in benchmark and the load run.

Servers under gunicorn on free loopback ports, the HTML forms of a page, TOTP
codes, a pool of users that never reuses a user within one time-step, the
sign-in flow step by step, and percentiles. Runs in the peer's venv (it needs
`requests` and `pyotp`); Firmguard and the peer are started as subprocesses from
their own venvs.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pyotp
import requests

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
WORK = BENCH / ".work"
PEER_PYTHON = BENCH / ".venv" / "bin" / "python"

FIRMGUARD = "Firmguard"
PEER = "Flask-Security-Too"
PASSWORD = "bench-password-1234"
STEP_SECONDS = 30
# Firmguard's defaults (RFC 9106's second option); the peer gets the same.
ARGON2 = {"ARGON2_TIME_COST": "3", "ARGON2_MEMORY_COST": "65536", "ARGON2_PARALLELISM": "4"}
GUNICORN_WORKERS = 2
HOST = "127.0.0.1"  # loopback only


def firmguard_python() -> Path:
    """Firmguard's interpreter: $FIRMGUARD_PYTHON, else the repo's .venv (scripts/bench makes it)."""
    return Path(os.environ.get("FIRMGUARD_PYTHON") or REPO / ".venv" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def run_python(python: Path, argv: list[str], env: dict[str, str]) -> None:
    """Run a helper script in another venv; its output goes to ours."""
    subprocess.run([str(python), *argv], cwd=REPO, env={**os.environ, **env}, check=True)


def load_json(path: Path):
    return json.loads(path.read_text())


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def new_workdir(work: Path) -> None:
    """An empty work folder with a fresh random secret for this run's apps."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    work.joinpath("secret").write_text(secrets.token_urlsafe(48))


# --- Firmguard -----------------------------------------------------------------


def firmguard_env(work: Path, *, rate_limited: bool) -> dict[str, str]:
    """Firmguard's environment for a run: SQLite in `work`, this run's keys."""
    secret = work.joinpath("secret").read_text()
    return {
        "FIRMGUARD_ENV": "development",
        "DATABASE_URL": f"sqlite:///{work / 'firmguard.sqlite'}",
        "SECRET_KEY": secret,
        "MFA_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secret.encode()[:32]).decode(),
        "MAIL_FILE_DIR": str(work / "mail"),
        "REDIS_URL": "",  # in-process limits and jobs: no shared service is touched
        "RATELIMIT_ENABLED": "true" if rate_limited else "false",
        **ARGON2,
    }


def seed_firmguard(work: Path, *, users: int, admins: int = 0, without_mfa: int = 0) -> None:
    """Migrate and seed Firmguard's database (bench/firmguard_seed.py, in its venv)."""
    run_python(
        firmguard_python(),
        [
            "bench/firmguard_seed.py",
            f"--users={users}",
            f"--admins={admins}",
            f"--without-mfa={without_mfa}",
            f"--password={PASSWORD}",
            f"--out={work / 'firmguard_users.json'}",
        ],
        firmguard_env(work, rate_limited=False),
    )


def firmguard_server(work: Path, *, rate_limited: bool, workers: int = GUNICORN_WORKERS) -> Server:
    label = "rate-limited" if rate_limited else "unthrottled"
    server = Server(
        f"{FIRMGUARD} ({label})",
        firmguard_python(),
        "wsgi:app",
        cwd=REPO,
        env=firmguard_env(work, rate_limited=rate_limited),
        log=work / f"firmguard-{label}.log",
        workers=workers,
    )
    # Its own address is the passkeys' origin and relying party (README, "Passkeys").
    server._env["BASE_URL"] = server.base_url
    return server


def firmguard_app(server: Server) -> AppUnderTest:
    return AppUnderTest(FIRMGUARD, server.base_url, "/sign-in", "/sign-in/verify", "/profile")


# --- servers -----------------------------------------------------------------


def _gunicorn_flags(python: Path) -> list[str]:
    """gunicorn 24+ opens a control socket at one fixed path; two servers would share it."""
    help_text = subprocess.run(
        [str(python), "-m", "gunicorn", "--help"], capture_output=True, text=True, check=True
    ).stdout
    return ["--no-control-socket"] if "--no-control-socket" in help_text else []


class Server:
    """An app under gunicorn (sync workers) on a free loopback port, for a `with` block."""

    def __init__(
        self,
        name: str,
        python: Path,
        target: str,
        *,
        cwd: Path,
        env: dict,
        log: Path,
        workers: int = GUNICORN_WORKERS,
        options: tuple[str, ...] = (),
    ):
        self.name = name
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log = log
        # gunicorn's own time per request (%(D)s, microseconds): server time, no client.
        self.access_log = log.with_suffix(".access.log")
        self._argv = [
            str(python),
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"{HOST}:{self.port}",
            "--access-logfile",
            str(self.access_log),
            "--access-logformat",
            "%(m)s %(U)s %(s)s %(D)s",
            *_gunicorn_flags(python),
            *options,
            target,
        ]
        self._cwd = cwd
        self._env = {**os.environ, **env}
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                self._argv, cwd=self._cwd, env=self._env, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_until_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")
            try:
                requests.get(self.base_url + "/", timeout=5, allow_redirects=False)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {seconds:g} s:\n{self.log_tail()}")

    def __exit__(self, *_exc) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)  # the master stops its workers
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def access_mark(self) -> int:
        """A position in the access log, to read the requests logged after it."""
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def server_times(self, start: int, end: int) -> list[tuple[str, str, float]]:
        """(method, path, server ms) of each request logged between two marks."""
        with self.access_log.open("rb") as log:
            log.seek(start)
            lines = log.read(end - start).decode(errors="replace").splitlines()
        times = []
        for line in lines:
            method, path, _status, micros = line.split()
            times.append((method, path, int(micros) / 1000))
        return times

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


# --- pages and forms -----------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden inputs, with values
    names: set[str] = field(default_factory=set)  # every input's name


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._current = Form(
                attributes.get("action", ""), attributes.get("method", "get").lower()
            )
            self.forms.append(self._current)
        elif tag in ("input", "textarea", "select") and self._current is not None:
            name = attributes.get("name")
            if name:
                self._current.names.add(name)
                if attributes.get("type") == "hidden":
                    self._current.fields[name] = attributes.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def find_form(html: str, with_field: str) -> Form | None:
    """The first form of `html` that has an input named `with_field`."""
    parser = _FormParser()
    parser.feed(html)
    return next((form for form in parser.forms if with_field in form.names), None)


def path_of(url: str) -> str:
    return urlsplit(url).path


# --- codes and users ------------------------------------------------------------


def current_step(offset: int = 0) -> int:
    return int(time.time() // STEP_SECONDS) + offset


def seconds_left_in_step() -> float:
    return STEP_SECONDS - time.time() % STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * STEP_SECONDS)


def wrong_code(secret: str, around: int = 12) -> str:
    """A 6-digit code that no step within `around` of now would accept."""
    now = current_step()
    valid = {code_at(secret, now + delta) for delta in range(-around, around + 1)}
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        if code not in valid:
            return code


@dataclass
class BenchUser:
    email: str
    secret: str | None
    role: str = "user"
    last_step: int = -1  # the last time-step whose code this user gave


class UserPool:
    """Hands out users so that none gives two codes in one time-step.

    Both apps' replay rules (where they have one) then never refuse a
    benchmark sign-in. Users come back in the order they were used, so the head
    of the queue is always the one free longest.
    """

    def __init__(self, users: list[BenchUser]):
        self._queue = deque(users)
        self._lock = threading.Lock()

    def take(self, timeout: float = STEP_SECONDS + 5) -> BenchUser:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._queue and self._queue[0].last_step < current_step():
                    return self._queue.popleft()
            if time.monotonic() > deadline:
                raise TimeoutError("no user free in this time-step; seed more users")
            time.sleep(0.05)

    def give_back(self, user: BenchUser) -> None:
        with self._lock:
            self._queue.append(user)


def load_users(path: Path, *, with_mfa: bool = True) -> list[BenchUser]:
    data = load_json(path)
    return [
        BenchUser(row["email"], row["secret"], row.get("role", "user"))
        for row in data["users"]
        if (row["secret"] is not None) == with_mfa
    ]


# --- the sign-in flow -------------------------------------------------------------


@dataclass(frozen=True)
class AppUnderTest:
    """Where an app's sign-in steps live (found in its templates and source)."""

    name: str
    base_url: str
    sign_in_path: str
    code_path: str
    protected_path: str

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path)


# --- statistics --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: list[float]) -> dict:
    """Count and p50/p95/p99 in ms (rounded to 0.1)."""

    def rounded(q):
        value = percentile(values, q)
        return None if value is None else round(value, 1)

    return {"n": len(values), "p50": rounded(50), "p95": rounded(95), "p99": rounded(99)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


def machine() -> dict:
    """The machine, with its load average: other work on it moves absolute times."""
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1_5_15_min": [round(value, 2) for value in os.getloadavg()],
    }
