"""The sign-in benchmark's probes: the same attacks on both apps (bench/signin.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import requests
from common import (
    AppUnderTest,
    BenchUser,
    code_at,
    current_step,
    find_form,
    seconds_left_in_step,
    wrong_code,
)
from flows import (
    FlowError,
    code_accepted,
    open_code_step,
    start_sign_in,
    submit_code,
)

MAX_OFFSET = 10
MAX_WRONG_CODES = 50
LOCK_WORDS = re.compile(r"lock|too many|try again (in|later|after)", re.IGNORECASE)


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
