"""gunicorn config for bench/office.py: a simulated clock for the attacker's hour.

`gunicorn -c bench/office_clock.py`, with $OFFICE_CLOCK_FILE naming a file
that holds an offset in seconds: each request then runs with the whole
process's clock (datetime, time.time) that far ahead of the real one, ticking,
by time-machine; the app is unchanged. Without the file, requests run on the
real clock. The driver only ever moves the offset forward, between requests,
so the simulated time never goes back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import time_machine

CLOCK_FILE = Path(os.environ["OFFICE_CLOCK_FILE"])
_travel: dict[int, time_machine.travel] = {}


def pre_request(worker, _request):
    try:
        offset = float(CLOCK_FILE.read_text())
    except FileNotFoundError:
        return
    travel = time_machine.travel(time.time() + offset, tick=True)
    travel.start()
    _travel[worker.pid] = travel


def post_request(worker, _request, _environ, _response):
    travel = _travel.pop(worker.pid, None)
    if travel is not None:
        travel.stop()
