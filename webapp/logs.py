"""Log lines: one per request and one per task, plain text or JSON (`LOG_FORMAT`).

Every line logged while a request (or a task) runs carries its id: a
request's is the `X-Request-ID` it came with, when that is sane, else a new
one, and it goes back in the response's `X-Request-ID`; a task's is its task
id. A request's line names its method, path, status and duration, never its
query string (links carry tokens there) nor the value of a non-numeric URL
variable (a path may carry a token too): those are logged as `<name>`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from urllib.parse import quote

from celery.signals import setup_logging, task_postrun, task_prerun
from flask import request
from werkzeug.wsgi import ClosingIterator

# The id of the request or task this thread is serving (None outside both).
CURRENT_ID: ContextVar[str | None] = ContextVar("firmguard_request_id", default=None)
REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Kept as they are in a logged path; everything else (spaces, control
# characters that could forge a line) is percent-encoded.
PATH_SAFE = "/<>-._~!$&'()*+,;=:@"
MAX_PATH = 300

request_log = logging.getLogger("firmguard.request")
task_log = logging.getLogger("firmguard.task")


def _stamp_ids(make_record):
    """A record factory that stamps each record with the current request or
    task id, whichever handler (ours, pytest's, gunicorn's) then formats it."""

    def make(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.request_id = CURRENT_ID.get() or "-"
        return record

    make.firmguard = True
    return make


if not getattr(logging.getLogRecordFactory(), "firmguard", False):
    logging.setLogRecordFactory(_stamp_ids(logging.getLogRecordFactory()))


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and
    the record's `fields` (a request's method, path, status, duration …)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


FORMATTERS = {"plain": PlainFormatter, "json": JsonFormatter}


def configure(log_format: str = "plain", level: int | str = logging.INFO) -> None:
    """Send the root logger's lines to stderr in `log_format` (idempotent)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "firmguard", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.firmguard = True
    handler.setFormatter(FORMATTERS[log_format]())
    root.addHandler(handler)
    root.setLevel(level)


def request_id_from(incoming: str | None) -> str:
    """The incoming id when it is sane (a load balancer's or a client's), else a new one."""
    if incoming and SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


LOG_PATH = "firmguard.log_path"


def note_loggable_path(_exc: BaseException | None = None) -> None:
    """At the request's teardown (its URL variables known): keep the path to
    log, without its query string, non-numeric URL variables as `<name>`."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    request.environ[LOG_PATH] = path


def loggable_path(environ) -> str:
    """The noted path (else the raw one), percent-encoded where it is not plain text."""
    path = environ.get(LOG_PATH) or environ.get("PATH_INFO", "")
    return quote(path, safe=PATH_SAFE)[:MAX_PATH]


class RequestLog:
    """WSGI middleware: the request id in and out, and one line per request,
    written when the response has been sent (a streamed CSV included)."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        token = CURRENT_ID.set(request_id)
        started = time.perf_counter()
        status = ["500"]

        def start(status_line, headers, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        def finish() -> None:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method, path = environ.get("REQUEST_METHOD", "-"), loggable_path(environ)
            request_log.info(
                "%s %s %s %.1f ms",
                method,
                path,
                status[0],
                duration_ms,
                extra={
                    "fields": {
                        "method": method,
                        "path": path,
                        "status": int(status[0]),
                        "duration_ms": duration_ms,
                    }
                },
            )
            # Closed from another context, the id is left to the next request's.
            with contextlib.suppress(ValueError):
                CURRENT_ID.reset(token)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            finish()
            raise
        return ClosingIterator(body, [finish])


# --- Celery: the worker logs through `configure`, and one line per task. ---

_running: dict[str, tuple[float, object]] = {}
_worker_format = {"format": "plain"}


def init_celery(log_format: str) -> None:
    """Connect the worker's logging and the per-task line (once per process)."""
    _worker_format["format"] = log_format
    setup_logging.connect(_use_our_format, weak=False, dispatch_uid="firmguard_logging")
    task_prerun.connect(_task_started, weak=False, dispatch_uid="firmguard_task_started")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="firmguard_task_finished")


def _use_our_format(loglevel=None, **_kwargs) -> None:
    # Connected, this replaces Celery's own set-up (`--loglevel` still applies).
    configure(_worker_format["format"], loglevel or logging.INFO)


def _task_started(task_id=None, **_kwargs) -> None:
    _running[task_id] = (time.perf_counter(), CURRENT_ID.set(task_id))


def _task_finished(task_id=None, task=None, state=None, **_kwargs) -> None:
    started, token = _running.pop(task_id, (None, None))
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    name = getattr(task, "name", "?")
    task_log.info(
        "task %s %s %s ms",
        name,
        state,
        duration_ms,
        extra={
            "fields": {"task": name, "task_id": task_id, "state": state, "duration_ms": duration_ms}
        },
    )
    if token is not None:
        try:
            CURRENT_ID.reset(token)
        except ValueError:
            CURRENT_ID.set(None)
