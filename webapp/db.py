"""Database engine and the per-request session, for SQLite and PostgreSQL.

The unit of work: a request, a Celery task or a CLI command owns one
transaction and commits it once; services only read and write through the
session they are given. For requests the commit point is here, in one hook
for every route (in the spirit of Flask-Security-Too's `view_commit`): after
a view that returned a response the request's session commits; when the view
(or a before-request hook) raised, even into an error handler that renders a
page, it rolls back, and the browser's session goes back to the cookie the
request came with, so a failed request leaves nothing behind, in the database
or in the cookie. A 4xx the view *returned* (a wrong code, a refused form) is
an answer, not a failure: what it recorded (the wrong-code count, the audit
row) is committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask, Response, current_app, g, has_request_context, request
from flask import session as browser_session
from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

FAILED = "db_request_failed"


class AppSession(Session):
    """The app's sessions (requests, tasks, commands): the class the outbox's
    after-commit delivery hook listens on (`webapp.delivery`), so sessions
    that tests or benchmarks open on their own deliver nothing by surprise."""


def make_engine(url: str) -> Engine:
    """Create an engine with the settings each backend needs."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(connection, _name):
            # pysqlite opens a transaction only at the first write. A SAVEPOINT
            # outside one would open its own, and its RELEASE would commit it
            # half-way through our unit of work: open the real one first (the
            # same deferred BEGIN pysqlite sends before a write).
            dbapi_connection = connection.connection.dbapi_connection
            if not dbapi_connection.in_transaction:
                dbapi_connection.execute("BEGIN")

        return engine
    # pre-ping: a restarted PostgreSQL costs one failed check, not a failed request.
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """The app's engine plus a session per app context, committed once per request."""

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        app.extensions["firmguard_db"] = make_engine(url)
        # Registered first, so it runs after every other after-request hook:
        # the commit is the request's last word.
        app.after_request(self._end_request)
        app.teardown_appcontext(self._close_session)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["firmguard_db"]

    @property
    def session(self) -> AppSession:
        """The session of the current app context (created on first use)."""
        if "db_session" not in g:
            g.db_session = AppSession(self.engine, expire_on_commit=False)
        return g.db_session

    @contextmanager
    def new_session(self) -> Iterator[AppSession]:
        """A session of its own (a task's, a streamed response's); the caller commits."""
        with AppSession(self.engine, expire_on_commit=False) as session:
            yield session

    def fail_request(self) -> None:
        """The request raised (called by the error handlers): undo what it did.

        The database work is rolled back, and the browser's session is read
        again from the request's cookie, so that a sign-in whose transaction
        is undone is not signed in either.
        """
        g.setdefault(FAILED, True)
        if has_request_context():
            as_it_came = current_app.session_interface.open_session(current_app, request)
            browser_session.clear()
            browser_session.update(as_it_came or {})
            g.pop("_login_user", None)  # Flask-Login reads the user again from it
        session = g.get("db_session")
        if session is not None:
            session.rollback()

    def _end_request(self, response: Response) -> Response:
        """The request's one commit point (a failed request was rolled back)."""
        session = g.get("db_session")
        if session is None or g.get(FAILED):
            return response
        try:
            session.commit()
        except Exception:
            # Flask answers with the error page (errors.render_unexpected),
            # which calls fail_request: rolled back, cookie as it came.
            session.rollback()
            raise
        return response

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
