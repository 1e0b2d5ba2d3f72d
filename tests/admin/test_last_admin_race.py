"""The last active admin holds under concurrency: changes that each leave
another admin, sent at the same moment, cannot together leave none."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from webapp.accounts import FieldError
from webapp.admin import user_edit
from webapp.models import User, utcnow


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
