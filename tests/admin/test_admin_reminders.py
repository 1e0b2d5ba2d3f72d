"""Admins' MFA reminders: "Send reminder" (a row, Edit user) and "Remind everyone
without MFA" — at once, through the outbox, at most one per user per local day
(shared with the daily compliance reminders), audited with the admin's name."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlmodel import Session, select

from tests import mfa_support
from tests.admin.conftest import enable_mfa, set_fields
from tests.conftest import sign_in
from tests.heads_up_helpers import outbox
from webapp import heads_up, reminders, timefmt
from webapp.models import AuditEvent, System, User

clock = mfa_support.clock  # the fixture, under its own name
HX = {"HX-Request": "true", "HX-Target": "dialog-slot"}


def remind(client, user, **extra):
    return client.post_form(
        "/admin/reminders", {"user": str(user.id), **extra}, token_from="/admin/users"
    )


def remind_everyone(client):
    return client.post_form("/admin/reminders/everyone", {}, token_from="/admin/users")


def reminded(session, user=None) -> list:
    rows = outbox(session, "reminder")
    return [row for row in rows if user is None or row.recipient == user.email]


def audit_events(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)))


def row_of(page: str, user) -> str:
    return page.split(f'id="user-{user.id}"', 1)[1].split("</tr>", 1)[0]


def flashed(client, path="/admin/users") -> str:
    return client.get(path).get_data(as_text=True)


def test_send_reminder_emails_at_once_audits_and_shows_on_the_row(
    admin_client, session, firm, clock
):
    zoe = firm["zoe"]
    response = remind(admin_client, zoe, back="mfa=off")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/users?mfa=off"
    page = flashed(admin_client, "/admin/users?mfa=off")
    assert "Reminder sent to Zoë Brown." in page
    assert "Reminded today" in row_of(page, zoe)

    [row] = reminded(session, zoe)
    today = timefmt.local_time("Pacific/Auckland", clock.now).date()
    assert row.dedupe_key == f"reminder:{zoe.id}:{today}"
    assert row.subject == "Please set up multi-factor authentication for Harbour Law"
    assert "Ann Admin, an admin of Harbour Law, asked us to remind you" in row.body_text
    # Harbour Law has no accounting linked: not a word of the NZ/AU rule.
    assert "tax authorities" not in row.body_text
    [event] = audit_events(session, "mfa.reminder_sent")
    assert (event.actor_id, event.subject_id) == (firm["ann"].id, zoe.id)
    assert "MFA reminder sent" in flashed(admin_client, "/admin/audit")

    clock.advance(days=2)
    sign_in(admin_client, "ann@harbour.example")
    assert "Reminded 2 days ago" in row_of(flashed(admin_client), zoe)


def test_a_second_reminder_the_same_local_day_says_when_the_first_went(
    admin_client, session, firm, clock
):
    zoe = firm["zoe"]
    remind(admin_client, zoe)
    first_at = timefmt.firm_time(clock.now, "Pacific/Auckland", timefmt.STYLES["time"])
    clock.advance(minutes=20)
    token = admin_client.csrf_token("/admin/users")
    response = admin_client.post(
        "/admin/reminders", data={"user": zoe.id}, headers={**HX, "X-CSRFToken": token}
    )
    body = response.get_data(as_text=True)
    assert f"Zoë Brown was already reminded today, at {first_at}." in body
    assert f'id="user-{zoe.id}" hx-swap-oob="true"' in body  # the row, updated in place
    assert len(reminded(session, zoe)) == 1
    assert len(audit_events(session, "mfa.reminder_sent")) == 1

    clock.advance(days=1)  # the firm's next local day
    sign_in(admin_client, "ann@harbour.example")
    remind(admin_client, zoe)
    assert len(reminded(session, zoe)) == 2


def test_who_needs_no_reminder_gets_none(app, admin_client, session, firm):
    enable_mfa(app, session, firm["jose"].id)
    set_fields(session, firm["liam"].id, active=False)
    for key, words in (("jose", "José Álvarez already has MFA"), ("liam", "liam chen is inactive")):
        remind(admin_client, firm[key])
        assert f"{words}: no reminder sent." in flashed(admin_client)
    assert reminded(session) == []
    # Another firm's user is not there at all.
    assert remind(admin_client, firm["outsider"]).status_code == 404
    for bad in ("x1", "", "99999999999999999999"):  # not an id: refused as bad input
        response = admin_client.post_form(
            "/admin/reminders", {"user": bad}, token_from="/admin/users"
        )
        assert response.status_code == 400
    assert reminded(session) == []


def test_remind_everyone_says_how_many_and_skips_who_was_reminded_today(
    app, admin_client, session, firm, clock
):
    enable_mfa(app, session, firm["jose"].id)
    set_fields(session, firm["liam"].id, active=False)
    # Ann (the admin), Zoë and Mere lack MFA.
    assert "Emails the MFA reminder now to 3 users without MFA." in flashed(admin_client)
    remind(admin_client, firm["zoe"])
    page = flashed(admin_client)
    assert "to 2 users without MFA (not those reminded today)." in page

    response = remind_everyone(admin_client)
    assert response.headers["Location"] == "/admin/users"
    assert "Reminder sent to 2 users without MFA." in flashed(admin_client)
    assert sorted(row.recipient for row in reminded(session)) == [
        "ann@harbour.example",
        "mere@harbour.example",
        "zoe@harbour.example",
    ]
    [event] = audit_events(session, "mfa.reminders_sent")
    assert (event.actor_id, event.system_id, event.details) == (
        firm["ann"].id,
        firm["system"].id,
        {"users": 2},
    )
    assert "Everyone without MFA was reminded today." in flashed(admin_client)

    remind_everyone(admin_client)
    assert "Everyone without MFA was already reminded today" in flashed(admin_client)
    assert len(reminded(session)) == 3
    assert len(audit_events(session, "mfa.reminders_sent")) == 1


def test_the_daily_run_and_an_admin_never_both_remind_the_same_day(
    app, admin_client, session, firm, clock
):
    """Harbour Law becomes a NZ firm with Xero: the daily run reminds too."""
    system = session.get(System, firm["system"].id)
    system.accounting_link = "xero"
    session.add(system)
    session.commit()
    remind(admin_client, firm["zoe"])  # before the day's run
    clock.advance(minutes=5)
    with app.app_context():
        run = heads_up.run_systems(session, [system.id], clock.now, ignore_hour=True)
        session.commit()
    assert run.reminders == 4  # Ann, José, Liam and Mere lack MFA; Zoë had hers
    run_at = timefmt.firm_time(clock.now, system.timezone, timefmt.STYLES["time"])
    assert len(reminded(session, firm["zoe"])) == 1
    clock.advance(minutes=20)  # within the admin's idle timeout
    remind(admin_client, firm["jose"])  # after it: already reminded by the run
    assert f"José Álvarez was already reminded today, at {run_at}." in flashed(admin_client)
    assert len(reminded(session)) == 5
    assert len(reminded(session, firm["jose"])) == 1


def test_two_admins_reminding_everyone_at_once_email_each_user_once(app, session, firm, clock):
    barrier = threading.Barrier(2)
    sent = []

    def click(offset: int) -> None:
        with app.app_context(), Session(app.extensions["firmguard_db"]) as own:
            admin = own.get(User, firm["ann"].id)
            system = own.get(System, firm["system"].id)
            barrier.wait()
            sent.append(
                reminders.remind_now(
                    own,
                    admin=admin,
                    system=system,
                    now=clock.now + timedelta(microseconds=offset),
                    counts_sso=False,
                )
            )
            own.commit()

    threads = [threading.Thread(target=click, args=(offset,)) for offset in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recipients = [row.recipient for row in reminded(session)]
    assert sorted(recipients) == sorted(set(recipients))
    assert len(recipients) == 5 == sum(sent)  # Ann, Zoë, José, Liam, Mere


def test_send_reminder_in_edit_user(admin_client, session, firm):
    zoe = firm["zoe"]
    page = admin_client.get(f"/admin/users/{zoe.id}").get_data(as_text=True)
    assert "Not reminded yet." in page
    assert re.search(
        r'<button type="submit" form="edit-user-remind"[^>]*>Send reminder</button>', page
    )
    response = remind(admin_client, zoe, back="edit")
    assert response.headers["Location"] == f"/admin/users/{zoe.id}"
    page = admin_client.get(f"/admin/users/{zoe.id}").get_data(as_text=True)
    assert "Reminder sent to Zoë Brown." in page
    assert "Last reminded today, at" in page
    assert len(reminded(session, zoe)) == 1
