"""Offboarding by CSV: "Import users" with an `active` column saying No
deactivates a user of the admin's firm as Edit user does (every session ends
at once, pending sign-ins and invitations dropped, the row, its audit trail
and its email kept); never another firm's user, never the admin themselves;
invitations and deactivations in one file, each audited."""

from __future__ import annotations

import re

from sqlmodel import select

from tests.admin import conftest as admin_world
from tests.admin.test_user_import import result_cells, send_path, upload
from tests.conftest import CsrfClient, sign_in
from tests.mfa_support import signed_in
from tests.passwords.conftest import actions, emails
from webapp.admin.import_preview import NOT_IN_FIRM, YOURSELF
from webapp.audit import Action
from webapp.models import User, UserImport

firm = admin_world.firm
admin_client = admin_world.admin_client

LEAVERS = (
    "email,display name,role,active\n"
    "zoe@harbour.example,,,No\n"  # a colleague: deactivated
    "nia.new@harbour.example,Nia New,User,Yes\n"  # a newcomer in the same file
    "zoe@other.example,,,no\n"  # another firm's user: as if unknown
    "ghost@harbour.example,,,No\n"  # nobody
    "ann@harbour.example,,,No\n"  # the admin herself
    "jose@harbour.example,José Álvarez,User,maybe\n"  # not Yes or No
)


def user(session, email: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.email == email)).one()


def test_the_preview_says_who_would_be_deactivated(admin_client, session, firm):
    preview = upload(admin_client, LEAVERS)
    cells = result_cells(preview)
    assert cells["zoe@harbour.example"] == "Deactivate"
    assert cells["nia.new@harbour.example"] == "New"
    assert cells["zoe@other.example"] == f"Invalid: {NOT_IN_FIRM}"
    assert cells["ghost@harbour.example"] == f"Invalid: {NOT_IN_FIRM}"
    assert cells["ann@harbour.example"] == f"Invalid: {YOURSELF}"
    assert cells["jose@harbour.example"] == "Invalid: Active must be Yes or No."
    body = preview.get_data(as_text=True)
    # The leaver as the firm knows them: the file gave only the email.
    assert re.search(
        r'zoe@harbour.example</td>\s*<td data-label="Display name">Zoë Brown</td>', body
    )
    assert "6 rows: 1 new, 1 to deactivate, 0 already exist, 4 invalid." in body
    assert "1 person will be deactivated" in body
    assert "Send invitations and deactivate 1" in body
    # Nothing changed yet.
    assert user(session, "zoe@harbour.example").active is True
    [kept] = session.exec(select(UserImport)).all()
    assert kept.rows == [
        ["invite", "nia.new@harbour.example", "Nia New", "user"],
        ["deactivate", "zoe@harbour.example"],
    ]


def test_a_leaver_is_signed_out_everywhere_and_kept(app, admin_client, session, firm):
    zoe_browser = CsrfClient(app)
    sign_in(zoe_browser, "zoe@harbour.example")
    assert signed_in(zoe_browser)
    preview = upload(admin_client, LEAVERS)
    done = admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    assert done.headers["Location"] == "/admin/users"
    message = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Invitations sent to 1 person. 1 deactivated and signed out everywhere." in message
    # Out at her next request, and no way back in; the row and its email stay.
    assert not signed_in(zoe_browser)
    assert sign_in(CsrfClient(app), "zoe@harbour.example").status_code == 422
    zoe = user(session, "zoe@harbour.example")
    assert (zoe.active, zoe.system_id) == (False, firm["system"].id)
    [event] = [e for e in actions(session, Action.USER_UPDATED) if e.subject_id == zoe.id]
    assert event.details == {"changes": {"active": [True, False]}, "imported": True}
    [summary] = actions(session, Action.USERS_IMPORTED)
    assert summary.details == {"invitations": 1, "deactivated": 1, "skipped": 0}
    # The rest as the preview said: the newcomer invited, the others untouched.
    assert [email.recipient for email in emails(session, "invitation")] == [
        "nia.new@harbour.example"
    ]
    assert user(session, "zoe@other.example").active is True
    assert user(session, "ann@harbour.example").active is True


def test_an_invited_person_in_the_file_has_the_invitation_revoked(app, admin_client, session, firm):
    upload_new = upload(admin_client, "tama@harbour.example,Tama,User\n")
    admin_client.post_form(send_path(upload_new), token_from="/admin/users/import")
    preview = upload(admin_client, "tama@harbour.example,,,No\n")
    assert result_cells(preview) == {"tama@harbour.example": "Deactivate"}
    assert "Deactivate users" in preview.get_data(as_text=True)  # nobody to invite
    admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    tama = user(session, "tama@harbour.example")
    assert (tama.active, tama.invited_at) == (False, None)
    assert [e.subject_id for e in actions(session, Action.INVITATION_REVOKED)] == [tama.id]
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "1 deactivated and signed out everywhere." in listing
    assert "Invitations sent to 0" not in listing


def test_someone_already_deactivated_is_no_change(admin_client, session, firm):
    admin_world.set_fields(session, firm["liam"].id, active=False)
    preview = upload(admin_client, "liam@harbour.example,,,No\n")
    assert result_cells(preview) == {"liam@harbour.example": "No change: Already deactivated."}
    assert "nothing to do" in preview.get_data(as_text=True)
    assert 'action="/admin/users/import/' not in preview.get_data(as_text=True)


def test_a_leaver_reactivated_since_the_preview_is_still_deactivated_once(
    app, admin_client, session, firm
):
    """Between the preview and the send another admin deactivates her: the send
    skips her with a reason, and does everything else."""
    preview = upload(admin_client, "zoe@harbour.example,,,No\njose@harbour.example,,,No\n")
    admin_world.set_fields(session, firm["zoe"].id, active=False)
    admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    message = admin_client.get("/admin/users").get_data(as_text=True)
    assert "1 deactivated" in message
    assert "1 skipped: zoe@harbour.example (changed since the preview)." in message
    assert user(session, "jose@harbour.example").active is False


def test_another_admin_leaving_is_a_deactivation_not_a_revoked_invitation(
    admin_client, session, firm
):
    admin_world.set_fields(session, firm["jose"].id, role="admin")
    preview = upload(admin_client, "jose@harbour.example,,,No\n")
    admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    jose = user(session, "jose@harbour.example")
    assert (jose.active, jose.role) == (False, "admin")
    [event] = [e for e in actions(session, Action.USER_UPDATED) if e.subject_id == jose.id]
    assert event.details["changes"] == {"active": [True, False]}
    assert actions(session, Action.INVITATION_REVOKED) == []
