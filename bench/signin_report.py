"""The sign-in benchmark's verdicts and table (bench/signin.py)."""

from __future__ import annotations

from common import (
    FIRMGUARD,
    PEER,
    ratio,
)
from flows import (
    SIGN_IN_STEPS,
)

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
    """The budget (README, "Budgets"): a code-step p50 at most 0.4 × the peer's, at
    least its sign-ins/s, and Firmguard refusing the three attacks."""
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
        "code_step_server_p50_at_most_0.4_of_peer": code_ratio is not None and code_ratio <= 0.4,
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
