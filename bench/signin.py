"""Side-by-side sign-in benchmark: Firmguard against Flask-Security-Too (the peer).

Seeds both apps with the same number of users whose TOTP is set up (same
password, same argon2id parameters), serves each with gunicorn (2 workers,
127.0.0.1, free ports), then drives the real HTTP flow with `requests`, the
apps in turn (A B A B …):

  1. sequential latency of each step: GET sign-in form, POST password, GET code
     page, POST the current code, GET a protected page;
  2. sign-ins per second with 4 client threads, for a bounded time, in rounds;
  3. the same probes against both: a replayed code within its time-step, the
     widest clock offset accepted, wrong codes in a row before any lockout, and a
     cookie captured after the password step reused after the sign-in completed.

Firmguard serves the latency and throughput runs with RATELIMIT_ENABLED=false
(one client address would otherwise hit the per-client limits) and the probes
with it true, as in production. Prints a table; raw figures go to
bench/results/signin.json. Run it through scripts/bench, which makes the venvs.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import threading
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import requests
from common import (
    ARGON2,
    BENCH,
    FIRMGUARD,
    PASSWORD,
    PEER_PYTHON,
    REPO,
    RESULTS,
    SIGN_IN_STEPS,
    WORK,
    AppUnderTest,
    BenchUser,
    FlowError,
    Server,
    UserPool,
    code_accepted,
    code_at,
    current_step,
    find_form,
    firmguard_app,
    firmguard_server,
    load_json,
    load_users,
    machine,
    new_workdir,
    open_code_step,
    ratio,
    run_python,
    seconds_left_in_step,
    seed_firmguard,
    sign_in_with_code,
    start_sign_in,
    submit_code,
    summary,
    write_json,
    wrong_code,
)

PEER = "Flask-Security-Too"
PROBE_USERS = 40
MAX_OFFSET = 10
MAX_WRONG_CODES = 50
LOCK_WORDS = re.compile(r"lock|too many|try again (in|later|after)", re.IGNORECASE)


# --- setting up ------------------------------------------------------------------


def peer_env(work: Path) -> dict[str, str]:
    secret = work.joinpath("secret").read_text()
    return {
        "PEER_DATABASE_URL": f"sqlite:///{work / 'peer.sqlite'}",
        "PEER_SECRET_KEY": secret,
        "PEER_PASSWORD_SALT": secret[::-1],
        "PEER_TOTP_KEY": secret[:43],
        **ARGON2,
    }


def prepare(work: Path, users: int) -> dict:
    """Fresh databases for both apps, seeded with `users` users each."""
    new_workdir(work)
    started = time.monotonic()
    seed_firmguard(work, users=users)
    run_python(
        PEER_PYTHON,
        [
            "bench/peer_fst/seed.py",
            "--users",
            str(users),
            "--password",
            PASSWORD,
            "--out",
            str(work / "peer_users.json"),
        ],
        peer_env(work),
    )
    return {
        FIRMGUARD: load_json(work / "firmguard_users.json")["password_hash_params"],
        PEER: load_json(work / "peer_users.json")["password_hash_params"],
        "seconds": round(time.monotonic() - started, 1),
    }


def peer_server(work: Path) -> Server:
    return Server(
        PEER,
        PEER_PYTHON,
        "app:create_app()",
        cwd=BENCH / "peer_fst",
        env=peer_env(work),
        log=work / "peer.log",
    )


def peer_app(server: Server) -> AppUnderTest:
    # Flask-Security-Too's defaults: SECURITY_LOGIN_URL, SECURITY_TWO_FACTOR_TOKEN_VALIDATION_URL.
    return AppUnderTest(PEER, server.base_url, "/login", "/tf-validate", "/profile")


# --- measuring -------------------------------------------------------------------


def sequential(
    apps: list[AppUnderTest], servers: dict[str, Server], pools: dict[str, UserPool], count: int
) -> dict:
    """`count` sign-ins per app, one at a time, the apps in turn.

    Per step: the wall time the client sees, and gunicorn's own time for the
    request (from its access log), which leaves the client out.
    """
    steps = {app.name: {step: [] for step in (*SIGN_IN_STEPS, "whole sign-in")} for app in apps}
    errors = {app.name: [] for app in apps}
    marks = {name: server.access_mark() for name, server in servers.items()}
    for _ in range(count):
        for app in apps:
            user = pools[app.name].take()
            timings: dict[str, float] = {}
            try:
                sign_in_with_code(requests.Session(), app, user, timings)
            except (FlowError, requests.RequestException) as error:
                errors[app.name].append(str(error))
                continue
            finally:
                pools[app.name].give_back(user)
            for step, ms in timings.items():
                steps[app.name][step].append(ms)
            steps[app.name]["whole sign-in"].append(sum(timings.values()))
    time.sleep(1)  # gunicorn logs a request just after answering it
    return {
        app.name: {
            "steps": {step: summary(values) for step, values in steps[app.name].items()},
            "server_steps": server_steps(
                app,
                servers[app.name].server_times(marks[app.name], servers[app.name].access_mark()),
            ),
            "errors": errors[app.name],
        }
        for app in apps
    }


def server_steps(app: AppUnderTest, times: list[tuple[str, str, float]]) -> dict:
    """gunicorn's time per sign-in step, from its access-log lines."""
    step_of = {
        ("GET", app.sign_in_path): "sign-in form",
        ("POST", app.sign_in_path): "password",
        ("GET", app.code_path): "code page",
        ("POST", app.code_path): "code",
        ("GET", app.protected_path): "protected page",
    }
    values: dict[str, list[float]] = {step: [] for step in SIGN_IN_STEPS}
    for method, path, ms in times:
        if (method, path) in step_of:
            values[step_of[method, path]].append(ms)
    return {step: summary(ms) for step, ms in values.items()}


def concurrent_run(app: AppUnderTest, pool: UserPool, threads: int, seconds: float) -> dict:
    """Sign-ins by `threads` clients for `seconds` (each finishes its last sign-in)."""
    lock = threading.Lock()
    done: list[dict] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            user = pool.take()
            timings: dict[str, float] = {}
            try:
                sign_in_with_code(requests.Session(), app, user, timings)
            except (FlowError, requests.RequestException) as error:
                with lock:
                    errors.append(str(error))
                continue
            finally:
                pool.give_back(user)
            with lock:
                done.append(timings)

    started = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed, 2),
        "sign_ins": len(done),
        "errors": errors,
        "code_step_ms": [round(t["code"], 1) for t in done],
    }


def throughput(
    apps: list[AppUnderTest], pools: dict[str, UserPool], threads: int, seconds: float, rounds: int
) -> dict:
    """`rounds` runs per app, the apps in turn; sign-ins per second over all of them."""
    runs = {app.name: [] for app in apps}
    for _ in range(rounds):
        for app in apps:
            runs[app.name].append(concurrent_run(app, pools[app.name], threads, seconds))
    result = {}
    for app in apps:
        total = sum(run["sign_ins"] for run in runs[app.name])
        elapsed = sum(run["seconds"] for run in runs[app.name])
        code_ms = [ms for run in runs[app.name] for ms in run["code_step_ms"]]
        result[app.name] = {
            "threads": threads,
            "sign_ins": total,
            "seconds": round(elapsed, 2),
            "sign_ins_per_second": round(total / elapsed, 2),
            "errors": [error for run in runs[app.name] for error in run["errors"]],
            "code_step_under_load": summary(code_ms),
            "runs": [{key: run[key] for key in ("seconds", "sign_ins")} for run in runs[app.name]],
        }
    return result


# --- probes ----------------------------------------------------------------------


def retry_after(response: requests.Response | None) -> float:
    value = response.headers.get("Retry-After", "") if response is not None else ""
    return min(float(value), 65.0) if value.isdigit() else 61.0


def is_client_throttle(response: requests.Response) -> bool:
    """A per-client rate limit (429 with no code form), as opposed to a per-user lock."""
    return response.status_code == 429 and find_form(response.text, "code") is None


class Prober:
    """Runs the probes against one app, a new user for each try.

    A per-client throttle (429 without the code form) met outside the
    wrong-code probe is waited out and noted: it is not what those probes
    measure. The wrong-code probe runs first, so it meets only its own limits.
    """

    def __init__(self, app: AppUnderTest, users: list[BenchUser]):
        self.app = app
        self._users = iter(users)
        self.notes: list[str] = []

    def user(self) -> BenchUser:
        return next(self._users)

    def _wait(self, response: requests.Response | None, where: str) -> None:
        wait = retry_after(response)
        self.notes.append(f"{where} throttled per client (429); waited {wait:.0f} s")
        time.sleep(wait)

    def code_step(self, user: BenchUser):
        """A new browser session at the code step for `user`: (session, page, form)."""
        for attempt in range(3):
            http = requests.Session()
            try:
                url = start_sign_in(http, self.app, user.email)
            except FlowError as error:
                if error.status != 429 or attempt == 2:
                    raise
                self._wait(error.response, "password step")
                continue
            page, form = open_code_step(http, url)
            if form is None:
                raise FlowError("code page", page, "no code form")
            return http, page, form
        raise AssertionError("unreachable")

    def submit(self, http, page, form, code_for: Callable[[], str]) -> requests.Response:
        """Submit a code (computed when sent), waiting out a per-client throttle."""
        for attempt in range(3):
            response = submit_code(http, page, form, code_for())
            if not is_client_throttle(response) or attempt == 2:
                return response
            self._wait(response, "code step")
        raise AssertionError("unreachable")

    def signed_in(self, http, response) -> bool:
        return code_accepted(http, self.app, response)

    # -- the probes --

    def wrong_codes(self) -> dict:
        """Wrong codes in a row until the answer differs from the first wrong-code
        answer (a lock or a throttle); then the right code, in the same session and
        in a new sign-in, tells whether the lock holds.
        """
        user = self.user()
        http, page, form = self.code_step(user)
        baseline = lock_at = lock_answer = None
        for attempt in range(1, MAX_WRONG_CODES + 1):
            response = submit_code(http, page, form, wrong_code(user.secret))
            if self.signed_in(http, response):
                return {"wrong_code_accepted_at": attempt}
            signature = _signature(response)
            if baseline is None:
                baseline = signature
            elif signature != baseline:
                lock_at, lock_answer = attempt, _answer_text(response)
                break
            page, form = response, find_form(response.text, "code") or form
        right = submit_code(http, page, form, code_at(user.secret, current_step()))
        result = {
            "lock_at_attempt": lock_at,
            "tried_up_to": MAX_WRONG_CODES,
            "wrong_code_answer": f"HTTP {baseline[0]}",
            "lock_answer": lock_answer,
            "right_code_accepted_after_wrong_codes": self.signed_in(http, right),
        }
        try:
            http, page, form = self.code_step(user)
            # The next step's code: inside both apps' windows, and never used yet.
            response = self.submit(http, page, form, lambda: code_at(user.secret, current_step(1)))
            result["right_code_accepted_in_new_session"] = self.signed_in(http, response)
        except FlowError as error:
            result["right_code_accepted_in_new_session"] = False
            self.notes.append(f"new sign-in after the wrong codes: {error}")
        return result

    def replay(self) -> dict:
        """Sign in with a code, then give the same code in a new sign-in, same step."""
        for _ in range(3):
            if seconds_left_in_step() < 15:
                time.sleep(seconds_left_in_step() + 0.5)
            user = self.user()
            http, page, form = self.code_step(user)
            step = current_step()
            code = code_at(user.secret, step)
            first = self.submit(http, page, form, lambda code=code: code)
            if not self.signed_in(http, first):
                raise FlowError("code", first, "replay probe: first use refused")
            http, page, form = self.code_step(user)
            second = self.submit(http, page, form, lambda code=code: code)
            if current_step() != step:
                continue  # the step ended meanwhile (a throttle wait): again, another user
            return {"accepted": self.signed_in(http, second), "status": second.status_code}
        return {"accepted": None, "status": None, "note": "time-step ended each time"}

    def clock_offset(self) -> dict:
        """The widest offset, ahead and behind, whose code is accepted."""
        widest = {}
        for direction, label in ((1, "ahead"), (-1, "behind")):
            widest[label] = 0
            for offset in range(1, MAX_OFFSET + 1):
                user = self.user()
                http, page, form = self.code_step(user)
                response = self.submit(
                    http,
                    page,
                    form,
                    lambda user=user, shift=direction * offset: code_at(
                        user.secret, current_step(shift)
                    ),
                )
                if not self.signed_in(http, response):
                    break
                widest[label] = offset
        return {**widest, "tried_up_to": MAX_OFFSET}

    def cookie_reuse(self) -> dict:
        """Capture the cookies after the password step, complete the sign-in, reuse them."""
        user = self.user()
        http = requests.Session()
        url = start_sign_in(http, self.app, user.email)
        captured = http.cookies.copy()
        page, form = open_code_step(http, url)
        if form is None:
            raise FlowError("code page", page, "cookie probe: no code form")
        step = current_step()
        response = self.submit(http, page, form, lambda: code_at(user.secret, step))
        if not self.signed_in(http, response):
            raise FlowError("code", response, "cookie probe: sign-in refused")
        attacker = requests.Session()
        attacker.cookies.update(captured)
        page, form = open_code_step(attacker, url)
        result = {"reached_code_step": form is not None, "status": page.status_code}
        if form is not None:
            # A fresh code (the next step's: no replay rule involved) with the old cookie.
            response = self.submit(attacker, page, form, lambda: code_at(user.secret, step + 1))
            result["signed_in_with_fresh_code"] = self.signed_in(attacker, response)
        return result


def _signature(response: requests.Response) -> tuple:
    return (
        response.status_code,
        find_form(response.text, "code") is not None,
        bool(LOCK_WORDS.search(response.text)),
    )


def _answer_text(response: requests.Response) -> str:
    """The status and the visible lock or throttle message of an answer."""
    match = LOCK_WORDS.search(response.text)
    if match is None:
        return f"HTTP {response.status_code}"
    start = response.text.rfind(">", 0, match.start()) + 1
    end = response.text.find("<", match.end())
    return f"HTTP {response.status_code}: {response.text[start:end].strip()}"


def probes(app: AppUnderTest, users: list[BenchUser]) -> dict:
    prober = Prober(app, users)
    result = {
        "wrong_codes": prober.wrong_codes(),
        "replayed_code_same_step": prober.replay(),
        "clock_offset_steps": prober.clock_offset(),
        "cookie_after_password_step": prober.cookie_reuse(),
    }
    result["notes"] = prober.notes
    return result


# --- reporting ---------------------------------------------------------------------


def _ms(stats: dict, key: str) -> str:
    value = stats.get(key)
    return "-" if value is None else f"{value:.1f}"


def _yes_no(value) -> str:
    return {True: "yes", False: "no", None: "?"}[value]


def _wrong_codes(probe: dict) -> str:
    if "wrong_code_accepted_at" in probe:
        return f"a wrong code was accepted (attempt {probe['wrong_code_accepted_at']})"
    if probe["lock_at_attempt"] is None:
        return f"no lockout after {probe['tried_up_to']}"
    return f"locked at wrong code {probe['lock_at_attempt']} ({probe['lock_answer']})"


def _cookie(probe: dict) -> str:
    if not probe["reached_code_step"]:
        return f"no (HTTP {probe['status']})"
    signed_in = probe.get("signed_in_with_fresh_code")
    return "yes" + (", and signed in with a fresh code" if signed_in else "")


def verdicts(results: dict) -> dict:
    """The issue's budget: half the peer's code-step p50, at least its sign-ins/s,
    and Firmguard refusing the three attacks."""
    seq = results["sequential"]
    tput = results["throughput"]
    probe = results["probes"][FIRMGUARD]
    # The budget is on the server's time per request (README, "Budgets"), so
    # gunicorn's time is used.
    code_ratio = ratio(
        seq[FIRMGUARD]["server_steps"]["code"]["p50"], seq[PEER]["server_steps"]["code"]["p50"]
    )
    rate_ratio = ratio(tput[FIRMGUARD]["sign_ins_per_second"], tput[PEER]["sign_ins_per_second"])
    wrong = probe["wrong_codes"]
    return {
        "code_step_server_p50_at_most_half_of_peer": code_ratio is not None and code_ratio <= 0.5,
        "sign_ins_per_second_at_least_peer": rate_ratio is not None and rate_ratio >= 1.0,
        "refuses_replayed_code": probe["replayed_code_same_step"]["accepted"] is False,
        "locks_after_wrong_codes": wrong.get("lock_at_attempt") is not None
        and not wrong["right_code_accepted_after_wrong_codes"]
        and not wrong["right_code_accepted_in_new_session"],
        "refuses_reused_password_step_cookie": not probe["cookie_after_password_step"][
            "reached_code_step"
        ],
        "no_errors": not any(
            results[part][name]["errors"]
            for part in ("sequential", "throughput")
            for name in (FIRMGUARD, PEER)
        ),
    }


def table(results: dict) -> str:
    seq, tput, probes_ = results["sequential"], results["throughput"], results["probes"]
    settings = results["settings"]
    n = settings["sequential_sign_ins"]
    lines = [
        f"Sign-in, sequential ({n} per app, A B A B …), ms per step: wall time at the client, "
        "and gunicorn's time for the request (server)",
        f"| Step | {FIRMGUARD} p50 / p95 | {PEER} p50 / p95 | Ratio p50 / p95 "
        f"| {FIRMGUARD} server p50 / p95 | {PEER} server p50 / p95 | Server ratio p50 / p95 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in (*SIGN_IN_STEPS, "whole sign-in"):
        cells = []
        for part in ("steps", "server_steps"):
            ours = seq[FIRMGUARD][part].get(step)
            theirs = seq[PEER][part].get(step)
            if ours is None:
                cells.append(" |  | ")
                continue
            cells.append(
                f"{_ms(ours, 'p50')} / {_ms(ours, 'p95')} "
                f"| {_ms(theirs, 'p50')} / {_ms(theirs, 'p95')} "
                f"| {ratio(ours['p50'], theirs['p50'])} / {ratio(ours['p95'], theirs['p95'])}"
            )
        lines.append(f"| {step} | {cells[0]} | {cells[1]} |")
    ours, theirs = tput[FIRMGUARD], tput[PEER]
    lines += [
        "",
        f"Throughput ({settings['threads']} client threads, "
        f"{settings['rounds']} × {settings['seconds_per_run']:g} s per app, in turn)",
        f"| Measure | {FIRMGUARD} | {PEER} | Ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| sign-ins per second | {ours['sign_ins_per_second']} | {theirs['sign_ins_per_second']} "
        f"| {ratio(ours['sign_ins_per_second'], theirs['sign_ins_per_second'])} |",
        f"| code step p50 / p95 under load (ms) "
        f"| {_ms(ours['code_step_under_load'], 'p50')} / {_ms(ours['code_step_under_load'], 'p95')} "
        f"| {_ms(theirs['code_step_under_load'], 'p50')} / {_ms(theirs['code_step_under_load'], 'p95')} "
        f"| {ratio(ours['code_step_under_load']['p50'], theirs['code_step_under_load']['p50'])} |",
        f"| errors (sequential + threaded) | {len(seq[FIRMGUARD]['errors']) + len(ours['errors'])} "
        f"| {len(seq[PEER]['errors']) + len(theirs['errors'])} | |",
        "",
        "Probes (same script for both)",
        f"| Probe | {FIRMGUARD} | {PEER} |",
        "| --- | --- | --- |",
    ]
    ours, theirs = probes_[FIRMGUARD], probes_[PEER]

    def offsets(probe):
        return f"+{probe['ahead']} / −{probe['behind']}"

    lines += [
        "| replayed code within its time-step accepted? "
        f"| {_yes_no(ours['replayed_code_same_step']['accepted'])} "
        f"| {_yes_no(theirs['replayed_code_same_step']['accepted'])} |",
        "| widest clock offset accepted (steps of 30 s, ahead / behind) "
        f"| {offsets(ours['clock_offset_steps'])} | {offsets(theirs['clock_offset_steps'])} |",
        f"| wrong codes in a row before any lockout | {_wrong_codes(ours['wrong_codes'])} "
        f"| {_wrong_codes(theirs['wrong_codes'])} |",
        "| right code accepted after them (same session / new sign-in) "
        f"| {_yes_no(ours['wrong_codes'].get('right_code_accepted_after_wrong_codes'))} / "
        f"{_yes_no(ours['wrong_codes'].get('right_code_accepted_in_new_session'))} "
        f"| {_yes_no(theirs['wrong_codes'].get('right_code_accepted_after_wrong_codes'))} / "
        f"{_yes_no(theirs['wrong_codes'].get('right_code_accepted_in_new_session'))} |",
        "| cookie from the password step of a completed sign-in reaches the code step? "
        f"| {_cookie(ours['cookie_after_password_step'])} "
        f"| {_cookie(theirs['cookie_after_password_step'])} |",
        "",
        "Settings: " + settings_line(results),
    ]
    return "\n".join(lines)


def settings_line(results: dict) -> str:
    settings = results["settings"]
    hashes = results["password_hashes"]
    return (
        f"{settings['machine']['cpus']} CPUs, Python {settings['machine']['python']}, "
        f"load average {settings['machine']['load_average_1_5_15_min'][0]} at the start and "
        f"{results['machine_at_end']['load_average_1_5_15_min'][0]} at the end; "
        f"{PEER} {settings['peer_version']} vs {FIRMGUARD} {settings['firmguard_commit']}; "
        f"gunicorn {settings['gunicorn_workers']} sync workers each on 127.0.0.1; SQLite (WAL) "
        f"for both; password hashes {'$'.join(hashes[FIRMGUARD])} ({FIRMGUARD}) and "
        f"{'$'.join(hashes[PEER])} ({PEER}); {settings['users']} users each; "
        f"{FIRMGUARD} rate limiting off for latency/throughput, on for the probes; "
        f"{PEER} as it ships (no rate limiting)."
    )


# --- main ------------------------------------------------------------------------


def warm_up(apps: list[AppUnderTest], pools: dict[str, UserPool]) -> None:
    """Two sign-ins per gunicorn worker, uncounted, so imports and caches are warm."""
    for app in apps:
        for _ in range(4):
            user = pools[app.name].take()
            try:
                sign_in_with_code(requests.Session(), app, user)
            finally:
                pools[app.name].give_back(user)


def firmguard_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=240, help="users seeded in each app")
    parser.add_argument("--sequential", type=int, default=60, help="sequential sign-ins per app")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10, help="length of one threaded run")
    parser.add_argument("--rounds", type=int, default=3, help="threaded runs per app")
    parser.add_argument("--out", type=Path, default=RESULTS / "signin.json")
    args = parser.parse_args()

    work = WORK / "signin"
    print(f"Seeding {args.users} users in each app …", flush=True)
    hashes = prepare(work, args.users)
    results: dict = {
        "settings": {
            "users": args.users,
            "sequential_sign_ins": args.sequential,
            "threads": args.threads,
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "gunicorn_workers": 2,
            "argon2": ARGON2,
            "peer_version": metadata.version("Flask-Security-Too"),
            "firmguard_commit": firmguard_commit(),
            "machine": machine(),
            "firmguard_rate_limiting": {"latency_and_throughput": False, "probes": True},
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "password_hashes": {FIRMGUARD: hashes[FIRMGUARD], PEER: hashes[PEER]},
        "seeding_seconds": hashes["seconds"],
    }
    users = {
        FIRMGUARD: load_users(work / "firmguard_users.json"),
        PEER: load_users(work / "peer_users.json"),
    }
    pools = {name: UserPool(rows[:-PROBE_USERS]) for name, rows in users.items()}
    with peer_server(work) as peer:
        with firmguard_server(work, rate_limited=False) as firmguard:
            apps = [firmguard_app(firmguard), peer_app(peer)]
            print("Warming up …", flush=True)
            warm_up(apps, pools)
            print(f"Sequential: {args.sequential} sign-ins per app …", flush=True)
            servers = {FIRMGUARD: firmguard, PEER: peer}
            results["sequential"] = sequential(apps, servers, pools, args.sequential)
            print(
                f"Throughput: {args.threads} threads, {args.rounds} × {args.seconds:g} s per app …",
                flush=True,
            )
            results["throughput"] = throughput(apps, pools, args.threads, args.seconds, args.rounds)
        with firmguard_server(work, rate_limited=True) as firmguard:
            print("Probes …", flush=True)
            results["probes"] = {
                app.name: probes(app, users[app.name][-PROBE_USERS:])
                for app in (firmguard_app(firmguard), peer_app(peer))
            }
    results["verdicts"] = verdicts(results)
    results["machine_at_end"] = machine()
    write_json(args.out, results)
    print()
    print(table(results))
    print()
    for name, ok in results["verdicts"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name.replace('_', ' ')}")
    print(f"\nRaw figures: {args.out}")


if __name__ == "__main__":
    main()
