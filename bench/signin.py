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
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path

import requests
from common import (
    ARGON2,
    BENCH,
    FIRMGUARD,
    PASSWORD,
    PEER,
    PEER_PYTHON,
    REPO,
    RESULTS,
    WORK,
    AppUnderTest,
    Server,
    UserPool,
    firmguard_app,
    firmguard_server,
    load_json,
    load_users,
    machine,
    new_workdir,
    run_python,
    seed_firmguard,
    summary,
    write_json,
)
from flows import (
    PASSKEY_STEPS,
    SIGN_IN_STEPS,
    FlowError,
    sign_in_with_code,
    sign_in_with_passkey,
)
from signin_probes import probes
from signin_report import table, verdicts

PROBE_USERS = 40


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


def passwordless(app: AppUnderTest, pool: UserPool, count: int) -> dict:
    """Firmguard alone: `count` sign-ins with a passkey (no password, no code)
    in turn with `count` with password + code, on the same server and users,
    so the two whole sign-ins compare within one run."""
    flows = {
        "passkey": (sign_in_with_passkey, PASSKEY_STEPS),
        "password + code": (sign_in_with_code, SIGN_IN_STEPS),
    }
    steps = {
        name: {step: [] for step in (*names, "whole sign-in")} for name, (_, names) in flows.items()
    }
    errors: list[str] = []
    for _ in range(count):
        for name, (flow, _) in flows.items():
            user = pool.take()
            timings: dict[str, float] = {}
            try:
                flow(requests.Session(), app, user, timings)
            except (FlowError, requests.RequestException) as error:
                errors.append(f"{name}: {error}")
                continue
            finally:
                pool.give_back(user)
            for step, ms in timings.items():
                steps[name][step].append(ms)
            steps[name]["whole sign-in"].append(sum(timings.values()))
    return {
        "steps": {
            name: {step: summary(v) for step, v in by_step.items()}
            for name, by_step in steps.items()
        },
        "errors": errors,
    }


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
            print(
                f"Passwordless: {args.sequential} passkey sign-ins beside password + code …",
                flush=True,
            )
            results["passwordless"] = passwordless(apps[0], pools[FIRMGUARD], args.sequential)
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
    whole = {
        name: steps["whole sign-in"] for name, steps in results["passwordless"]["steps"].items()
    }
    print(
        "\nFirmguard, whole sign-in p50 / p95 (ms), in turn on one server: "
        + "; ".join(f"{name} {w['p50']:.1f} / {w['p95']:.1f}" for name, w in whole.items())
        + f"; errors {len(results['passwordless']['errors'])}"
    )
    print()
    for name, ok in results["verdicts"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name.replace('_', ' ')}")
    print(f"\nRaw figures: {args.out}")


if __name__ == "__main__":
    main()
