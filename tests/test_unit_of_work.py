"""One unit of work per request, task and command; mail follows the commit.

Services never commit or roll back (scanned in the source); a request commits
once after its view returned, and a request that raised leaves nothing: no
rows, no email, no change to the browser's session.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Blueprint, abort
from flask import session as browser_session
from sqlmodel import select

from tests.heads_up_helpers import REMINDER
from webapp import audit, delivery, outbox
from webapp.audit import Action
from webapp.extensions import db
from webapp.models import AuditEvent, OutboundEmail, User

ROOT = Path(__file__).resolve().parent.parent

# Who may end a transaction: the request's hook, each task, each command, and
# the outbox delivery loop (its unit of work is one claimed row).
UNIT_OF_WORK_OWNERS = {
    ("webapp/db.py", "_end_request"),
    ("webapp/db.py", "fail_request"),
    ("webapp/mail.py", "deliver_due"),
    ("webapp/tasks.py", "*"),
    ("webapp/cli/*", "*"),
}


def transaction_ends() -> set[tuple[str, str, int]]:
    """Every `….commit()` / `….rollback()` call in the app: (file, function, line)."""
    found = set()
    for path in sorted([*ROOT.glob("webapp/**/*.py"), *ROOT.glob("jobs/**/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(), relative)
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"commit", "rollback"}
                ):
                    found.add((relative, function.name, node.lineno))
    return found


def allowed(path: str, function: str) -> bool:
    return any(
        Path(path).match(owner_path) and owner_function in {"*", function}
        for owner_path, owner_function in UNIT_OF_WORK_OWNERS
    )


def test_only_requests_tasks_and_commands_end_a_transaction():
    calls = transaction_ends()
    strays = sorted(
        f"{path}:{line} in {name}()" for path, name, line in calls if not allowed(path, name)
    )
    assert strays == [], "services must leave commit and rollback to their caller"
    # The scan sees the owners' own calls (so it would see a service's).
    assert {(path, name) for path, name, _ in calls} >= {
        ("webapp/db.py", "_end_request"),
        ("webapp/mail.py", "deliver_due"),
        ("webapp/tasks.py", "run_heads_up"),
    }


# --- requests ------------------------------------------------------------------

probe = Blueprint("probe", __name__)


@probe.route("/probe/<ending>")
def write_then(ending: str):
    """Writes an audit row, queues an email and marks the browser's session,
    then ends as asked (GET, so no CSRF token is needed)."""
    user = db.session.exec(select(User)).first()
    audit.record(db.session, Action.USER_UPDATED, actor=user, subject=user, probe=ending)
    outbox.queue_email(db.session, recipient=user.email, dedupe_key=f"probe:{ending}", **REMINDER)
    browser_session["probe"] = ending
    if ending == "raise":
        raise RuntimeError("after writing")
    if ending == "abort":
        abort(409)
    if ending == "commit-fails":
        # A second user with the same email: refused only at the commit's flush.
        db.session.add(
            User(system_id=user.system_id, email=user.email, display_name="Twin", password_hash="x")
        )
    return "done"


@pytest.fixture
def probed(app, factory):
    app.register_blueprint(probe)
    # As in production: an error at the commit gets the error page, not a traceback.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    factory.user(email="ann@example.com")
    return app


def written(session, ending: str) -> tuple[int, int]:
    session.expire_all()
    events = [
        event
        for event in session.exec(select(AuditEvent)).all()
        if event.details.get("probe") == ending
    ]
    emails = session.exec(
        select(OutboundEmail).where(OutboundEmail.dedupe_key == f"probe:{ending}")
    ).all()
    return len(events), len(emails)


def test_a_request_that_returns_commits_once_and_then_sends(probed, client, session, mailbox):
    response = client.get("/probe/return")
    assert response.status_code == 200
    assert written(session, "return") == (1, 1)
    assert [message["To"] for message in mailbox()] == ["ann@example.com"]
    with client.session_transaction() as browser:
        assert browser["probe"] == "return"


@pytest.mark.parametrize("ending, status", [("raise", 500), ("abort", 409), ("commit-fails", 500)])
def test_a_request_that_fails_leaves_nothing_and_sends_nothing(
    probed, client, session, mailbox, ending, status
):
    with client.session_transaction() as browser:
        browser["before"] = "kept"
    response = client.get(f"/probe/{ending}")
    assert response.status_code == status
    assert written(session, ending) == (0, 0)
    assert mailbox() == []
    with client.session_transaction() as browser:
        assert "probe" not in browser
        assert browser["before"] == "kept"


# --- the delivery hook -------------------------------------------------------------


def queue(key: str) -> int | None:
    return outbox.queue_email(
        db.session, recipient=f"{key}@example.com", dedupe_key=key, **REMINDER
    )


def recipients(mailbox) -> list[str]:
    return sorted(message["To"] for message in mailbox())


def test_a_commit_delivers_what_its_transaction_queued(app, mailbox):
    with app.app_context():
        queue("a")
        queue("b")
        assert mailbox() == []  # not before the commit
        db.session.commit()
    assert recipients(mailbox) == ["a@example.com", "b@example.com"]


def test_rows_added_through_the_orm_are_delivered_too(app, mailbox):
    with app.app_context():
        values = outbox.email_row_values(recipient="orm@example.com", dedupe_key="orm", **REMINDER)
        db.session.add(OutboundEmail(**values))
        db.session.commit()
    assert recipients(mailbox) == ["orm@example.com"]


def test_a_rollback_sends_nothing_and_the_next_commit_only_its_own(app, session, mailbox):
    with app.app_context():
        queue("dropped")
        db.session.rollback()
        queue("kept")
        db.session.commit()
    assert recipients(mailbox) == ["kept@example.com"]
    assert [row.recipient for row in session.exec(select(OutboundEmail))] == ["kept@example.com"]


def test_a_savepoint_is_not_the_commit(app, mailbox):
    with app.app_context():
        with db.session.begin_nested():
            queue("inner")
        assert mailbox() == []  # released, not committed
        db.session.rollback()
        db.session.commit()
    assert mailbox() == []


def test_a_command_can_take_its_rows_to_send_them_itself(app, mailbox):
    with app.app_context():
        row_id = queue("mine")
        assert delivery.take_queued_ids(db.session) == [row_id]
        db.session.commit()
    assert mailbox() == []
