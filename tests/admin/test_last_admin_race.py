"""The last active admin holds under concurrency: changes that each leave
another admin, sent at the same moment, cannot together leave none."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlmodel import Session, select

from tests import mfa_support
from tests.admin.conftest import edit_form
from tests.conftest import sign_in
from webapp.accounts import FieldError
from webapp.admin import user_edit
from webapp.auth import step_up
from webapp.models import User, utcnow

clock = mfa_support.clock  # the fixture


@pytest.fixture
def admins(factory):
    system = factory.system(name="Two Admins Law")
    return (
        factory.user(system, "ann@two.example", "Ann Admin", admin=True),
        factory.user(system, "ben@two.example", "Ben Admin", admin=True),
    )


def at_once(app, edits) -> list[str]:
    """Run each (admin id, user id, role, active) edit in its own thread and
    transaction, all released together; what each ended with."""
    barrier = threading.Barrier(len(edits))
    results = []

    def edit(admin_id, user_id, role, active) -> None:
        with app.app_context(), Session(app.extensions["firmguard_db"]) as own:
            admin, user = own.get(User, admin_id), own.get(User, user_id)
            changes = user_edit.UserChanges(
                display_name=user.display_name,
                role=role,
                active=active,
                mfa_enabled=user.mfa_enabled,
                billing_acknowledged=False,
            )
            barrier.wait()
            try:
                user_edit.update_user(own, admin=admin, user=user, changes=changes, now=utcnow())
                own.commit()
                results.append("saved")
            except FieldError as error:
                own.rollback()
                results.append(str(error))

    threads = [threading.Thread(target=edit, args=args) for args in edits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def active_admins(session) -> list[str]:
    session.expire_all()
    return [user.email for user in session.exec(select(User).where(User.active_admin))]


LAST = "This is the last active admin: make someone else an admin first."


def test_two_admins_demoting_each_other_at_once_leave_one(app, session, admins):
    ann, ben = admins
    results = at_once(app, [(ann.id, ben.id, "user", True), (ben.id, ann.id, "user", True)])
    assert results == [LAST, "saved"]
    assert len(active_admins(session)) == 1


def test_demote_me_and_deactivate_the_other_at_once_leave_one(app, session, admins):
    ann, ben = admins
    results = at_once(app, [(ann.id, ann.id, "user", True), (ann.id, ben.id, "admin", False)])
    assert results == [LAST, "saved"]
    assert len(active_admins(session)) == 1


def test_two_admins_demoting_each_other_with_their_step_up_codes_leave_one(
    app, session, admins, clock, monkeypatch
):
    """Each request gives its "Confirm it's you" code (which writes its admin's
    row) and demotes the other. Released together before their proofs and held
    again before the demotion's lock, they would deadlock on PostgreSQL (each
    holds the row the other needs) if the proof did not take the firm's lock
    first; as it does, the second queues, and neither gets an error page."""
    ann, ben = admins
    clients = {}
    for admin in admins:
        mfa_support.enable_mfa(app, session, admin)
        clients[admin.id] = app.test_client()
        assert sign_in(clients[admin.id], admin.email).status_code == 302
        assert mfa_support.submit_code(clients[admin.id], clock.code()).status_code == 302
    clock.advance(seconds=30)
    before_proofs, before_lock = threading.Barrier(2), threading.Barrier(2, timeout=2)
    confirm, stop_being_admin = step_up.confirm, user_edit.stop_being_admin

    def confirm_together():
        before_proofs.wait(timeout=10)
        return confirm()

    def stop_together(*args, **kwargs):
        # Broken after 2 s when the other request queues behind this one's lock.
        with contextlib.suppress(threading.BrokenBarrierError):
            before_lock.wait()
        return stop_being_admin(*args, **kwargs)

    monkeypatch.setattr(step_up, "confirm", confirm_together)
    monkeypatch.setattr(user_edit, "stop_being_admin", stop_together)
    statuses = []

    def demote(admin, other) -> None:
        data = {**edit_form(other, role="user", mfa_enabled="y"), "code": clock.code()}
        client = clients[admin.id]
        statuses.append(client.post_form(f"/admin/users/{other.id}", data).status_code)

    threads = [threading.Thread(target=demote, args=pair) for pair in ((ann, ben), (ben, ann))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302, 422]  # saved; "the last active admin" (no 500)
    assert len(active_admins(session)) == 1
