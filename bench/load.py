"""Load run: 32 simulated users against Firmguard under gunicorn for 60 s.

Each simulated user signs in as a seeded user, works for a few requests and
signs out, then starts again as another user, until the time is up:

  - members (MFA on): sign-in with a code, then My Profile;
  - admins (MFA on): sign-in with a code, then the Users & permissions live
    filter (/admin/users?q=…, as htmx sends it) and My Profile;
  - enrollers (MFA off): password sign-in, then "Activate" (opens the
    enrolment dialog: POST /profile/mfa/setup, htmx), "Show secret key" and
    My Profile.

Between two requests a user thinks for a random 0 to --think seconds. Loopback
only, bounded in time and in requests. Reports requests/s, p50/p95/p99 per
route, errors, 5xx and lost sessions (a signed-in request sent back to the
sign-in page); the budget is zero 5xx and zero lost sessions. Rate limiting is
off for this run (every simulated user comes from 127.0.0.1). Raw figures go to
bench/results/load.json. Run it through scripts/bench, which makes the venvs.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests
from common import (
    ARGON2,
    FIRMGUARD,
    RESULTS,
    WORK,
    AppUnderTest,
    BenchUser,
    UserPool,
    find_form,
    firmguard_app,
    firmguard_server,
    load_json,
    load_users,
    machine,
    new_workdir,
    path_of,
    seed_firmguard,
    summary,
    write_json,
)
from flows import (
    FlowError,
    sign_in_with_code,
    submit_password,
)

# The sign-in steps as routes, for the per-route table.
STEP_ROUTES = {
    "sign-in form": "GET /sign-in",
    "password": "POST /sign-in",
    "code page": "GET /sign-in/verify",
    "code": "POST /sign-in/verify",
    "protected page": "GET /profile",
}
ADMIN_FILTER = "GET /admin/users?q= (htmx)"
OPEN_DIALOG = "POST /profile/mfa/setup (htmx: Activate)"
SHOW_SECRET = "GET /profile/mfa/setup?show=secret (htmx)"
SEARCH_TERMS = ["ar", "zo", "jos", "mere", "li", "sio", "pri", "ta", "an", "ben", "smith", "user0"]
ACTIONS_PER_SESSION = 10
RAMP_UP_SECONDS = 5.0  # simulated users start spread over this, not all at once
MAX_REQUESTS = 200_000  # a hard stop, whatever the other settings


class Stopped(Exception):
    """The run's time or request budget is used up."""


class Recorder:
    """Thread-safe tally of every request: latency per route, errors, 5xx, lost sessions."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self._lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.server_errors = 0
        self.lost_sessions = 0
        self.requests = 0
        self.sign_ins = 0

    def check_budget(self) -> None:
        if time.monotonic() >= self.deadline or self.requests >= MAX_REQUESTS:
            raise Stopped

    def note(self, route: str, ms: float, status: int) -> None:
        with self._lock:
            self.requests += 1
            self.latencies[route].append(ms)
            if status >= 500:
                self.server_errors += 1

    def error(self, route: str, what: str, *, lost_session: bool = False) -> None:
        with self._lock:
            self.errors[f"{route}: {what}"] += 1
            if lost_session:
                self.lost_sessions += 1

    def signed_in(self) -> None:
        with self._lock:
            self.sign_ins += 1


class SimulatedUser:
    """One of the concurrent users: sign in, a few actions, sign out, again."""

    def __init__(self, kind: str, app: AppUnderTest, pool: UserPool, recorder: Recorder, think):
        self.kind = kind
        self.app = app
        self.pool = pool
        self.recorder = recorder
        self.think = think
        self.random = random.Random()

    def run(self) -> None:
        time.sleep(self.random.uniform(0, RAMP_UP_SECONDS))
        try:
            while True:
                self.recorder.check_budget()
                try:
                    user = self.pool.take(timeout=self.recorder.deadline - time.monotonic())
                except TimeoutError:
                    raise Stopped from None
                try:
                    self.session(user)
                except Stopped:
                    raise
                except Exception as error:  # a driver fault must show, not thin the load
                    self.recorder.error("client", repr(error))
                finally:
                    self.pool.give_back(user)
        except Stopped:
            return

    def session(self, user: BenchUser) -> None:
        http = requests.Session()
        if not self.sign_in(http, user):
            return
        self.recorder.signed_in()
        for _ in range(ACTIONS_PER_SESSION):
            self.pause()
            if not self.action(http):
                return  # the session is gone (counted); start again as someone else
        self.pause()
        self.sign_out(http)

    def pause(self) -> None:
        self.recorder.check_budget()
        time.sleep(self.random.uniform(0, self.think))

    # -- requests --

    def request(
        self, http, method: str, route: str, url: str, **kwargs
    ) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = http.request(method, url, allow_redirects=False, timeout=60, **kwargs)
        except requests.RequestException as error:
            self.recorder.error(route, type(error).__name__)
            return None
        self.recorder.note(route, (time.perf_counter() - started) * 1000, response.status_code)
        return response

    def expect(self, response: requests.Response | None, route: str, status: int) -> bool:
        """True if `response` is what a signed-in user gets; else count what went wrong."""
        if response is None:
            return False
        if response.status_code == status:
            return True
        lost = (
            response.status_code in (301, 302, 303)
            and path_of(response.headers.get("Location", "")) == self.app.sign_in_path
        )
        self.recorder.error(
            route, "lost session" if lost else f"HTTP {response.status_code}", lost_session=lost
        )
        return False

    def sign_in(self, http: requests.Session, user: BenchUser) -> bool:
        timings: dict[str, float] = {}
        failed: FlowError | None = None
        try:
            if user.secret:
                sign_in_with_code(http, self.app, user, timings)
            else:
                response = submit_password(http, self.app, user.email, timings)
                target = path_of(response.headers.get("Location", ""))
                if response.status_code != 302 or target != self.app.protected_path:
                    raise FlowError("password", response, "expected a redirect to My Profile")
        except FlowError as error:
            failed = error
        except requests.RequestException as error:
            self.recorder.error("sign-in", type(error).__name__)
            return False
        for step, ms in timings.items():
            # The flow checked every status; only the failed step's matters here.
            status = failed.status if failed is not None and step == failed.step else 200
            self.recorder.note(STEP_ROUTES[step], ms, status if isinstance(status, int) else 0)
        if failed is not None:
            self.recorder.error(STEP_ROUTES[failed.step], f"HTTP {failed.status}")
            return False
        return True

    def htmx_headers(self, page: requests.Response, target: str) -> dict[str, str]:
        form = find_form(page.text, "csrf_token")
        return {
            "HX-Request": "true",
            "HX-Current-URL": page.url,
            "HX-Target": target,
            "X-CSRFToken": form.fields["csrf_token"] if form else "",
        }

    def action(self, http: requests.Session) -> bool:
        """One thing the user does; False when the session was lost."""
        route = "GET /profile"
        profile = self.request(http, "GET", route, self.app.url("/profile"))
        if not self.expect(profile, route, 200):
            return False
        if self.kind == "admin":
            self.pause()
            term = self.random.choice(SEARCH_TERMS)
            response = self.request(
                http,
                "GET",
                ADMIN_FILTER,
                self.app.url(f"/admin/users?q={term}"),
                headers=self.htmx_headers(profile, "users-table"),
            )
            return self.expect(response, ADMIN_FILTER, 200)
        if self.kind == "enroller":
            self.pause()
            response = self.request(
                http,
                "POST",
                OPEN_DIALOG,
                self.app.url("/profile/mfa/setup"),
                headers=self.htmx_headers(profile, "mfa-dialog-slot"),
            )
            if not self.expect(response, OPEN_DIALOG, 200):
                return False
            if "QR code" not in response.text:
                self.recorder.error(OPEN_DIALOG, "no QR code in the dialog")
            self.pause()
            response = self.request(
                http,
                "GET",
                SHOW_SECRET,
                self.app.url("/profile/mfa/setup?show=secret"),
                headers=self.htmx_headers(profile, "secret-key"),
            )
            return self.expect(response, SHOW_SECRET, 200)
        return True

    def sign_out(self, http: requests.Session) -> None:
        route = "GET /profile"
        profile = self.request(http, "GET", route, self.app.url("/profile"))
        if not self.expect(profile, route, 200):
            return
        form = find_form(profile.text, "csrf_token")
        route = "POST /sign-out"
        if form is None:
            self.recorder.error(route, "no form with a CSRF token on My Profile")
            return
        response = self.request(
            http,
            "POST",
            route,
            self.app.url("/sign-out"),
            data={"csrf_token": form.fields["csrf_token"]},
        )
        if response is not None and response.status_code != 302:
            self.recorder.error(route, f"HTTP {response.status_code}")


def run_load(app: AppUnderTest, pools: dict[str, UserPool], mix: dict[str, int], seconds, think):
    recorder = Recorder(time.monotonic() + seconds)
    simulated = [
        SimulatedUser(kind, app, pools[kind], recorder, think)
        for kind, count in mix.items()
        for _ in range(count)
    ]
    threads = [threading.Thread(target=user.run) for user in simulated]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    routes = {route: summary(values) for route, values in sorted(recorder.latencies.items())}
    return {
        "seconds": round(elapsed, 2),
        "requests": recorder.requests,
        "requests_per_second": round(recorder.requests / elapsed, 1),
        "sign_ins": recorder.sign_ins,
        "server_errors_5xx": recorder.server_errors,
        "lost_sessions": recorder.lost_sessions,
        "errors": dict(recorder.errors),
        "error_count": sum(recorder.errors.values()),
        "routes": routes,
    }


def table(results: dict) -> str:
    load = results["load"]
    settings = results["settings"]
    lines = [
        f"Load: {settings['simulated_users']} simulated users "
        f"({', '.join(f'{n} {kind}s' for kind, n in settings['mix'].items())}) for "
        f"{settings['seconds']:g} s, think time 0–{settings['think_seconds']:g} s, "
        f"{settings['actions_per_session']} actions per signed-in session, "
        f"starts spread over {RAMP_UP_SECONDS:g} s",
        "| Route | Requests | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for route, stats in load["routes"].items():
        lines.append(
            f"| {route} | {stats['n']} | {stats['p50']} | {stats['p95']} | {stats['p99']} |"
        )
    lines += [
        "",
        f"{load['requests']} requests in {load['seconds']} s = {load['requests_per_second']} "
        f"requests/s; {load['sign_ins']} completed sign-ins; errors {load['error_count']}, "
        f"5xx {load['server_errors_5xx']}, lost sessions {load['lost_sessions']}.",
    ]
    if load["errors"]:
        lines.append("Errors: " + "; ".join(f"{what} ×{n}" for what, n in load["errors"].items()))
    lines.append(
        f"Settings: {FIRMGUARD} under gunicorn, {settings['gunicorn_workers']} sync workers, "
        "127.0.0.1, SQLite (WAL), "
        f"RATELIMIT_ENABLED=false, argon2id t={ARGON2['ARGON2_TIME_COST']} "
        f"m={ARGON2['ARGON2_MEMORY_COST']} p={ARGON2['ARGON2_PARALLELISM']}; "
        f"{settings['seeded']['users']} users seeded; {settings['machine']['cpus']} CPUs, "
        f"load average {settings['machine']['load_average_1_5_15_min'][0]} at the start and "
        f"{results['machine_at_end']['load_average_1_5_15_min'][0]} at the end."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=16, help="simulated users with MFA")
    parser.add_argument("--admins", type=int, default=8, help="simulated admins with MFA")
    parser.add_argument("--enrollers", type=int, default=8, help="simulated users without MFA")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--workers", type=int, default=4, help="gunicorn workers (README's production command: 4)"
    )
    parser.add_argument("--think", type=float, default=1.0, help="longest pause between requests")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args()

    work = WORK / "load"
    new_workdir(work)
    seeded = {"users": 500, "admins": 60, "with_mfa": 400, "without_mfa": 100}
    print(f"Seeding {seeded['users']} users …", flush=True)
    seed_firmguard(
        work,
        users=seeded["with_mfa"],
        admins=seeded["admins"],
        without_mfa=seeded["without_mfa"],
    )
    users = load_users(work / "firmguard_users.json")
    pools = {
        "member": UserPool([user for user in users if user.role != "admin"]),
        "admin": UserPool([user for user in users if user.role == "admin"]),
        "enroller": UserPool(load_users(work / "firmguard_users.json", with_mfa=False)),
    }
    mix = {"member": args.members, "admin": args.admins, "enroller": args.enrollers}
    results: dict = {
        "settings": {
            "simulated_users": sum(mix.values()),
            "mix": mix,
            "seconds": args.seconds,
            "think_seconds": args.think,
            "actions_per_session": ACTIONS_PER_SESSION,
            "ramp_up_seconds": RAMP_UP_SECONDS,
            "gunicorn_workers": args.workers,
            "rate_limiting": False,
            "argon2": ARGON2,
            "seeded": seeded,
            "password_hash": load_json(work / "firmguard_users.json")["password_hash_params"],
            "machine": machine(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    with firmguard_server(work, rate_limited=False, workers=args.workers) as server:
        app = firmguard_app(server)
        print(f"Load: {sum(mix.values())} simulated users for {args.seconds:g} s …", flush=True)
        results["load"] = run_load(app, pools, mix, args.seconds, args.think)
    results["within_budget"] = (
        results["load"]["server_errors_5xx"] == 0 and results["load"]["lost_sessions"] == 0
    )
    results["machine_at_end"] = machine()
    write_json(args.out, results)
    print()
    print(table(results))
    print(f"\n{'PASS' if results['within_budget'] else 'FAIL'}  zero 5xx and zero lost sessions")
    print(f"Raw figures: {args.out}")


if __name__ == "__main__":
    main()
