"""Office benchmark: a firm behind one address signs in; an attacker with 50 addresses does not get far.

Firmguard under gunicorn (2 sync workers), SQLite, the sign-in limits on (as in
production), their counts in Redis (a private redis-server on a free loopback
port, or $REDIS_URL), `TRUSTED_PROXIES=1`: the client address is the one the
driver puts in `X-Forwarded-For`, as a reverse proxy would.

1. **Office**: `--users` (500) colleagues of one firm, all from one address
   (203.0.113.9), each signs in once with the right password and the current
   code, `--threads` (4) at a time, as fast as the machine allows. Reported:
   sign-ins per second, p50/p95 of a whole sign-in and of the password and code
   steps, and how many were refused (any 429). Budget: 0 refused.
2. **Attacker**: one more account, wrong passwords from 50 addresses in turn
   over `--hours` (2) simulated hours. The server's clock is simulated
   (bench/office_clock.py: time-machine in each worker, set per request from a
   file the driver writes), so the run takes seconds, not hours: every
   `--step` (20) simulated seconds the attacker guesses until refused.
   Reported: guesses admitted (the password was looked at: 422) and refused
   (429), the most admitted in any 60 simulated minutes, against the README's
   promise (at most 60 in any hour, "Sign-in limits").

The machine's load average is printed at the start and the end. Raw figures:
bench/results/office.json. Run it with `./scripts/bench office [ARGS]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from queue import Empty, Queue

import requests
from common import (
    ARGON2,
    FIRMGUARD,
    PASSWORD,
    RESULTS,
    WORK,
    BenchUser,
    Server,
    find_form,
    firmguard_app,
    firmguard_env,
    firmguard_python,
    free_port,
    load_json,
    load_users,
    machine,
    new_workdir,
    seed_firmguard,
    summary,
    write_json,
)
from flows import FlowError, sign_in_with_code

OFFICE_ADDRESS = "203.0.113.9"
ATTACKER_ADDRESSES = [f"198.18.0.{n}" for n in range(1, 51)]
PROMISED_PER_HOUR = 60  # README, "Sign-in limits": "Promise"
GUESSES_PER_STEP = 12  # more than a lock lets through, so each step ends refused
HOUR = 3600.0


# --- Redis ------------------------------------------------------------------------


class PrivateRedis:
    """A redis-server of this run's own on a free loopback port (nothing saved)."""

    def __init__(self, work: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._log = work / "redis.log"
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> PrivateRedis:
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--logfile", str(self._log)]
        self._process = subprocess.Popen(argv)  # noqa: S603 (fixed argv)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"],  # noqa: S607
                    check=True,
                    capture_output=True,
                )
                return self
            except subprocess.CalledProcessError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *_exc) -> None:
        self._process.terminate()
        self._process.wait(timeout=20)


# --- 1. the office ------------------------------------------------------------------


def office(app, users: list[BenchUser], threads: int) -> dict:
    """Each colleague signs in once, from the office address, `threads` at a time."""
    queue: Queue[BenchUser] = Queue()
    for user in users:
        queue.put(user)
    whole, steps = [], {"password": [], "code": []}
    failures: Counter[str] = Counter()
    lock = threading.Lock()

    def colleague() -> None:
        while True:
            try:
                user = queue.get_nowait()
            except Empty:
                return
            http = requests.Session()
            http.headers["X-Forwarded-For"] = OFFICE_ADDRESS
            timings: dict[str, float] = {}
            started = time.perf_counter()
            try:
                sign_in_with_code(http, app, user, timings)
            except (FlowError, requests.RequestException) as error:
                status = getattr(error, "status", "-")
                with lock:
                    failures["refused (429)" if status == 429 else f"{error}"[:80]] += 1
                continue
            finally:
                http.close()
            with lock:
                whole.append((time.perf_counter() - started) * 1000)
                for step in steps:
                    steps[step].append(timings[step])

    workers = [threading.Thread(target=colleague) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    return {
        "colleagues": len(users),
        "client_threads": threads,
        "seconds": round(seconds, 2),
        "signed_in": len(whole),
        "sign_ins_per_second": round(len(whole) / seconds, 2),
        "refused": failures["refused (429)"],
        "other_failures": {key: n for key, n in failures.items() if key != "refused (429)"},
        "sign_in_ms": summary(whole),
        "password_step_ms": summary(steps["password"]),
        "code_step_ms": summary(steps["code"]),
    }


# --- 2. the attacker -------------------------------------------------------------------


def guess(app, address: str, email: str) -> int:
    """One wrong password from `address`: the sign-in form, then the POST."""
    with requests.Session() as http:
        http.headers["X-Forwarded-For"] = address
        page = http.get(app.url(app.sign_in_path), timeout=60)
        form = find_form(page.text, "password")
        data = {**form.fields, "email": email, "password": "not-" + PASSWORD}
        answer = http.post(app.url(form.action or app.sign_in_path), data=data, timeout=60)
        return answer.status_code


def attacker(app, email: str, clock_file: Path, hours: float, step: float) -> dict:
    """Guess until refused, every `step` simulated seconds, for `hours`. The
    server's clock runs `offset` seconds ahead of the real one; each step moves
    it on (never back), so simulated time = real time + offset."""
    start = time.time()
    admitted_at: list[float] = []  # simulated seconds since the start
    answers: Counter[int] = Counter()
    turn, offset, planned = 0, 0.0, 0.0
    try:
        while planned < hours * HOUR:
            offset = max(offset, start + planned - time.time())
            set_offset(clock_file, offset)
            for _ in range(GUESSES_PER_STEP):
                status = guess(app, ATTACKER_ADDRESSES[turn % len(ATTACKER_ADDRESSES)], email)
                turn += 1
                answers[status] += 1
                if status != 422:
                    break
                admitted_at.append(time.time() + offset - start)
            planned += step
    finally:
        clock_file.unlink(missing_ok=True)
    in_any_hour = max(
        (sum(1 for t in admitted_at if first <= t < first + HOUR) for first in admitted_at),
        default=0,
    )
    return {
        "addresses": len(ATTACKER_ADDRESSES),
        "simulated_hours": hours,
        "step_seconds": step,
        "guesses": sum(answers.values()),
        "admitted": len(admitted_at),
        "refused": answers[429],
        "answers": {str(status): n for status, n in sorted(answers.items())},
        "admitted_in_first_hour": sum(1 for t in admitted_at if t < HOUR),
        "admitted_in_any_hour_at_most": in_any_hour,
        "promised_per_hour": PROMISED_PER_HOUR,
        "admitted_minutes": [round(t / 60, 2) for t in admitted_at],
    }


def set_offset(clock_file: Path, offset: float) -> None:
    """Write the offset whole (a worker never reads half a number)."""
    partial = clock_file.with_suffix(".partial")
    partial.write_text(f"{offset:.3f}")
    os.replace(partial, clock_file)


# --- report --------------------------------------------------------------------------


def load_line(label: str, figures: dict) -> str:
    one, five, fifteen = figures["load_average_1_5_15_min"]
    return f"{label}: load average {one} / {five} / {fifteen} (1/5/15 min), {figures['cpus']} CPUs"


def report(results: dict) -> str:
    o, a = results["office"], results["attacker"]
    lines = [
        f"Office: {o['colleagues']} colleagues, one address, {o['client_threads']} client threads",
        f"  signed in      {o['signed_in']} in {o['seconds']} s = {o['sign_ins_per_second']}/s",
        f"  refused (429)  {o['refused']}   other failures: {sum(o['other_failures'].values())}",
        "  p50 / p95 ms   whole sign-in {p50} / {p95}".format(**o["sign_in_ms"]),
        "                 password step {p50} / {p95}".format(**o["password_step_ms"]),
        "                 code step     {p50} / {p95}".format(**o["code_step_ms"]),
        f"Attacker: {a['addresses']} addresses, one account, {a['simulated_hours']:g} simulated h",
        f"  guesses        {a['guesses']} (admitted {a['admitted']}, refused {a['refused']})",
        f"  admitted       {a['admitted_in_first_hour']} in the first hour, at most "
        f"{a['admitted_in_any_hour_at_most']} in any hour (promise: {a['promised_per_hour']})",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=500, help="colleagues of the one firm")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--hours", type=float, default=2, help="the attacker's simulated hours")
    parser.add_argument("--step", type=float, default=20, help="simulated seconds between tries")
    parser.add_argument("--out", type=Path, default=RESULTS / "office.json")
    args = parser.parse_args()

    at_start = machine()
    print(load_line("Start", at_start), flush=True)
    work = WORK / "office"
    new_workdir(work)
    print(f"Seeding {args.users} colleagues and the attacked account …", flush=True)
    seed_firmguard(work, users=args.users + 1)
    *colleagues, target = load_users(work / "firmguard_users.json")
    clock_file = work / "clock"
    with PrivateRedis(work) if not os.environ.get("REDIS_URL") else _Given() as redis:
        env = {
            **firmguard_env(work, rate_limited=True),
            "REDIS_URL": redis.url,
            "TRUSTED_PROXIES": "1",
            "OFFICE_CLOCK_FILE": str(clock_file),
        }
        server = Server(
            f"{FIRMGUARD} (office)",
            firmguard_python(),
            "wsgi:app",
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            log=work / "firmguard.log",
            options=("--config", "bench/office_clock.py"),
        )
        with server:
            app = firmguard_app(server)
            print(f"Office: {len(colleagues)} colleagues sign in …", flush=True)
            office_figures = office(app, colleagues, args.threads)
            print(f"Attacker: {args.hours:g} simulated hours …", flush=True)
            attack_figures = attacker(app, target.email, clock_file, args.hours, args.step)
    results = {
        "settings": {
            "users": args.users,
            "gunicorn_workers": 2,
            "storage": "redis",
            "database": "sqlite",
            "trusted_proxies": 1,
            "argon2": ARGON2,
            "password_hash": load_json(work / "firmguard_users.json")["password_hash_params"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "machine_at_start": at_start,
        "office": office_figures,
        "attacker": attack_figures,
    }
    results["within_budget"] = (
        office_figures["refused"] == 0
        and not office_figures["other_failures"]
        and attack_figures["admitted_in_any_hour_at_most"] <= PROMISED_PER_HOUR
    )
    results["machine_at_end"] = machine()
    write_json(args.out, results)
    print()
    print(report(results))
    print(load_line("End", results["machine_at_end"]))
    verdict = "PASS" if results["within_budget"] else "FAIL"
    print(f"\n{verdict}  0 colleagues refused; at most {PROMISED_PER_HOUR} guesses in any hour")
    print(f"Raw figures: {args.out}")


class _Given:
    """$REDIS_URL, used as it is (nothing started or stopped)."""

    url = os.environ.get("REDIS_URL", "")

    def __enter__(self) -> _Given:
        return self

    def __exit__(self, *_exc) -> None:
        pass


if __name__ == "__main__":
    main()
