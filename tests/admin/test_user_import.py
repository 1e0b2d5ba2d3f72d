"""Users & permissions → "Import users": a CSV becomes a preview of what each
row will do (new, already exists, invalid, and why); "Send invitations"
invites exactly the new rows, once, with the same outbox email and audit as
Add user; bad rows never stop the good ones; nothing changes before the send,
which needs a fresh "Confirm it's you" and belongs to the admin's firm."""

from __future__ import annotations

import io
import re

from sqlmodel import select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests import mfa_support
from tests.admin import conftest as admin_world
from tests.concurrency import at_the_same_moment
from tests.conftest import CsrfClient, sign_in
from tests.passwords.conftest import actions, emails
from tests.passwords.test_invitations import accept
from tests.step_up_support import confirm_its_you
from webapp.admin import import_preview, user_import
from webapp.audit import Action
from webapp.models import User, UserImport
from webapp.passwords import tokens

firm = admin_world.firm
admin_client = admin_world.admin_client
clock = mfa_support.clock
SEND_ACTION = re.compile(r'action="(/admin/users/import/\d+/send)"')

GOOD_AND_BAD = (
    "email,display name,role\n"
    "nia.new@harbour.example,Nia New,User\n"
    "ZOE@other.example,Zoë Again,User\n"  # another firm's user: exists (which firm: not said)
    "zoe@harbour.example,Zoë Brown,Admin\n"  # this firm's user: exists
    "not-an-email,Someone,User\n"
    "tama@harbour.example,,User\n"  # no name
    "rua@harbour.example,Rua,Owner\n"  # no such role
    "\n"
    '"kahu@harbour.example","Kahu, the ""second""",admin\n'  # quoted comma and quotes
    "NIA.NEW@harbour.example,Nia Twice,User\n"  # the same email again in the file
)


def upload(client, text: str | bytes, filename: str = "people.csv"):
    data = text.encode() if isinstance(text, str) else text
    # Encoded here, in memory: the test client spools a body over 500 KB to a
    # temporary file that it never closes.
    boundary, body = encode_multipart(
        {
            "csrf_token": client.csrf_token("/admin/users/import"),
            "file": FileStorage(io.BytesIO(data), filename),
        }
    )
    return client.post(
        "/admin/users/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def send_path(preview) -> str:
    return SEND_ACTION.search(preview.get_data(as_text=True)).group(1)


def result_cells(preview) -> dict[str, str]:
    """Email → its Result cell, from the preview table, in the table's order."""
    body = preview.get_data(as_text=True).split('id="import-preview"', 1)[1]
    rows = re.findall(
        r'data-label="Email">([^<]*)</td>.*?data-label="Result">([^<]*)</td>', body, re.S
    )
    cells: dict[str, str] = {}
    for email, result in rows:  # an email's first row (a repeat is checked on its own)
        cells.setdefault(email, result.replace("&#34;", '"').replace("&#39;", "'"))
    return cells


def users_named(session, *emails_) -> list[User]:
    session.expire_all()
    return list(session.exec(select(User).where(User.email.in_(emails_)).order_by(User.email)))


def test_the_preview_says_what_each_row_will_do_and_changes_nothing(admin_client, session, firm):
    page = admin_client.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users/import"' in page and "Import users" in page
    form = admin_client.get("/admin/users/import").get_data(as_text=True)
    assert "CSV file" in form and "Upload and preview" in form and "Download a template" in form
    preview = upload(admin_client, GOOD_AND_BAD)
    assert preview.status_code == 200
    cells = result_cells(preview)
    assert cells["nia.new@harbour.example"] == "New"
    assert cells["kahu@harbour.example"] == "New"
    assert cells["zoe@other.example"] == "Already exists"
    assert cells["zoe@harbour.example"] == "Already exists"
    assert cells["not-an-email"].startswith("Invalid: Enter an email address")
    assert cells["tama@harbour.example"] == "Invalid: The name must be 1 to 200 characters."
    assert cells["rua@harbour.example"] == "Invalid: The role must be User or Admin."
    # The duplicate names the line it repeats (the file's line 2; the blank line counts).
    assert "Invalid: Also on line 2 of the file." in preview.get_data(as_text=True)
    summary = preview.get_data(as_text=True)
    assert "8 rows:" in summary and "2 new, 2 already exist, 4 invalid." in summary
    assert "Other Firm" not in summary
    # Nothing changed: no user, no email, no audit; only the kept preview.
    assert users_named(session, "nia.new@harbour.example", "kahu@harbour.example") == []
    assert emails(session, "invitation") == []
    assert actions(session, Action.USER_INVITED) == []
    assert [row.rows for row in session.exec(select(UserImport))] == [
        [
            ["invite", "nia.new@harbour.example", "Nia New", "user"],
            ["invite", "kahu@harbour.example", 'Kahu, the "second"', "admin"],
        ]
    ]


def test_send_invitations_invites_the_new_rows_once(app, admin_client, session, firm):
    preview = upload(admin_client, GOOD_AND_BAD)
    sent = admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    assert sent.status_code == 302 and sent.headers["Location"] == "/admin/users"
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Invitations sent to 2 people." in listing
    nia, kahu = sorted(
        users_named(session, "nia.new@harbour.example", "kahu@harbour.example"),
        key=lambda user: user.email != "nia.new@harbour.example",
    )
    assert (nia.display_name, nia.role, tokens.invited(nia)) == ("Nia New", "user", True)
    assert (kahu.display_name, kahu.role, kahu.system_id) == (
        'Kahu, the "second"',
        "admin",
        firm["system"].id,
    )
    # The same email and audit as Add user; the other rows are untouched.
    assert sorted(email.recipient for email in emails(session, "invitation")) == [
        "kahu@harbour.example",
        "nia.new@harbour.example",
    ]
    invited = actions(session, Action.USER_INVITED)
    assert sorted(event.subject_id for event in invited) == sorted([nia.id, kahu.id])
    assert all(
        event.details == {"role": user_role, "imported": True}
        for event, user_role in (
            (event, session.get(User, event.subject_id).role) for event in invited
        )
    )
    [summary] = actions(session, Action.USERS_IMPORTED)
    assert summary.details == {"invitations": 2, "deactivated": 0, "skipped": 0}
    assert users_named(session, "zoe@harbour.example")[0].display_name == "Zoë Brown"
    assert users_named(session, "rua@harbour.example", "tama@harbour.example") == []
    # The link works as an Add user invitation's.
    from tests.passwords.test_invitations import invitation_path

    newcomer = CsrfClient(app)
    assert accept(newcomer, invitation_path(session, "kahu@harbour.example")).status_code == 302
    # A second click sends nothing more.
    again = admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    assert again.headers["Location"] == "/admin/users/import"
    assert user_import.SPENT in admin_client.get("/admin/users/import").get_data(as_text=True)
    assert len(emails(session, "invitation")) == 2


def test_a_row_taken_since_the_preview_is_skipped_and_the_rest_sent(
    admin_client, session, factory, firm
):
    preview = upload(
        admin_client, "nia.new@harbour.example,Nia New,User\nkahu@harbour.example,Kahu,User\n"
    )
    factory.user(firm["system"], "kahu@harbour.example", "Kahu Meanwhile")
    admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    message = admin_client.get("/admin/users").get_data(as_text=True)
    assert (
        "Invitations sent to 1 person. 1 skipped" in message and "kahu@harbour.example" in message
    )
    assert [email.recipient for email in emails(session, "invitation")] == [
        "nia.new@harbour.example"
    ]
    assert users_named(session, "kahu@harbour.example")[0].display_name == "Kahu Meanwhile"
    [summary] = actions(session, Action.USERS_IMPORTED)
    assert summary.details == {"invitations": 1, "deactivated": 0, "skipped": 1}


def test_two_sends_at_once_invite_each_person_once(app, admin_client, session, firm):
    preview = upload(
        admin_client, "".join(f"p{n}@harbour.example,Person {n},User\n" for n in range(30))
    )
    path = send_path(preview)
    token = admin_client.csrf_token("/admin/users/import")

    def click(wait):
        wait()
        return admin_client.post(path, data={"csrf_token": token}).headers["Location"]

    assert sorted(at_the_same_moment(click)) == ["/admin/users", "/admin/users/import"]
    assert len(emails(session, "invitation")) == 30
    assert len(actions(session, Action.USERS_IMPORTED)) == 1


def test_sending_asks_confirm_its_you_and_stays_in_the_firm(app, client, session, firm, factory):
    sign_in(client, "ann@harbour.example")  # no fresh proof
    preview = upload(client, "nia.new@harbour.example,Nia New,User\n")
    assert preview.status_code == 200  # previewing changes nobody: no proof asked
    asked = client.post_form(send_path(preview), token_from="/admin/users/import")
    assert "Confirm it" in asked.get_data(as_text=True)
    assert users_named(session, "nia.new@harbour.example") == []
    # Another firm's admin cannot send (or learn of) Harbour's import.
    other_admin = CsrfClient(app)
    sign_in(other_admin, "zoe@other.example")
    refused = other_admin.post_form(send_path(preview), token_from="/admin/users/import")
    assert refused.status_code == 404
    # A user who is not an admin cannot import.
    colleague = CsrfClient(app)
    sign_in(colleague, "zoe@harbour.example")
    assert colleague.get("/admin/users/import").status_code == 403
    assert users_named(session, "nia.new@harbour.example") == []


def test_a_preview_is_kept_an_hour(clock, admin_client, session, firm):
    preview = upload(admin_client, "nia.new@harbour.example,Nia New,User\n")
    for _ in range(3):  # the admin works on meanwhile (30 minutes idle ends a session)
        clock.advance(minutes=20, seconds=20)
        assert admin_client.get("/admin/users").status_code == 200
    late = admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    assert late.headers["Location"] == "/admin/users/import"
    assert users_named(session, "nia.new@harbour.example") == []


def test_files_that_cannot_be_read_get_a_clear_message(admin_client, session, firm):
    empty = upload(admin_client, "\n\n")
    assert empty.status_code == 422 and "The file has no rows" in empty.get_data(as_text=True)
    nothing = admin_client.post_form("/admin/users/import", {}, token_from="/admin/users/import")
    assert nothing.status_code == 422 and "Choose a CSV file." in nothing.get_data(as_text=True)
    wrong_kind = upload(admin_client, "x", filename="people.xlsx")
    assert wrong_kind.status_code == 422 and "Choose a .csv file." in wrong_kind.get_data(
        as_text=True
    )
    big = upload(admin_client, "a@harbour.example,A,User\n" * 100_000)  # 2.4 MB
    assert big.status_code == 422 and "larger than 2 MB" in big.get_data(as_text=True)
    assert session.exec(select(UserImport)).all() == []


def test_excel_files_in_either_encoding_keep_their_names(admin_client, firm):
    utf8_bom = "\ufeffemail,display name,role\r\nmere.two@harbour.example,Mere Tūhoe,User\r\n"
    preview = upload(admin_client, utf8_bom.encode("utf-8"))
    assert "Mere Tūhoe" in preview.get_data(as_text=True)
    windows = "role,name,email\r\nAdmin,José Álvarez,jose2@harbour.example\r\n".encode("cp1252")
    preview = upload(admin_client, windows)
    cells = result_cells(preview)
    assert cells == {"jose2@harbour.example": "New"}
    assert "José Álvarez" in preview.get_data(as_text=True)


def test_more_rows_than_allowed_are_said_and_the_first_ones_kept(
    admin_client, session, firm, monkeypatch
):
    monkeypatch.setattr(import_preview, "MAX_ROWS", 3)
    monkeypatch.setattr(import_preview, "BATCH_SIZE", 2)  # the rows are checked in batches
    preview = upload(admin_client, "".join(f"p{n}@harbour.example,P {n},User\n" for n in range(5)))
    body = preview.get_data(as_text=True)
    assert "only the first 3 were read" in body and "3 new" in body
    [kept] = session.exec(select(UserImport)).all()
    assert [row[1] for row in kept.rows] == [f"p{n}@harbour.example" for n in range(3)]


def test_odd_files_are_read_or_refused_clearly(admin_client, session, firm):
    # Old Mac line ends ("\r" alone) and a stray NUL still read as rows.
    mac = "amo@harbour.example,Amo,User\rhine@harbour.example,Hi\x00ne,Admin\r"
    assert result_cells(upload(admin_client, mac)) == {
        "amo@harbour.example": "New",
        "hine@harbour.example": "New",
    }
    # A cell csv cannot read (over its 128 KB limit) names the line; nothing kept.
    huge = "ok@harbour.example,Ok,User\n" + 'bad@harbour.example,"' + "x" * 200_000 + '",User\n'
    refused = upload(admin_client, huge)
    assert refused.status_code == 422 and "Line 2 could not be read as CSV" in refused.get_data(
        as_text=True
    )
    assert len(session.exec(select(UserImport)).all()) == 1  # the first file's preview only


def test_a_long_file_lists_every_problem_and_counts_the_rest(admin_client, firm, monkeypatch):
    monkeypatch.setattr(import_preview, "LISTED_ROWS", 4)
    rows = [f"p{n}@harbour.example,P {n},User" for n in range(6)] + ["bad,Bad,User"]
    preview = upload(admin_client, "\n".join(rows) + "\n")
    body = preview.get_data(as_text=True)
    assert list(result_cells(preview)) == [
        "p0@harbour.example",
        "p1@harbour.example",
        "p2@harbour.example",
        "bad",
    ]
    assert "4 more new rows are not listed" not in body and "3 more new rows are not listed" in body


def test_excel_semicolons_quoted_line_breaks_and_utf16(admin_client, session, firm):
    # Excel where the comma is the decimal mark saves ";"; a ";" inside quotes is text.
    semicolons = 'role;email;display name\nUser;ana@harbour.example;"Ana; the second"\n'
    preview = upload(admin_client, semicolons)
    assert result_cells(preview) == {"ana@harbour.example": "New"}
    assert "Ana; the second" in preview.get_data(as_text=True)
    # A quoted cell over two lines: the next row is still named by its own line.
    multiline = 'email,display name\nbad,"Two\nlines"\nalso bad,Someone\n'
    body = upload(admin_client, multiline).get_data(as_text=True)
    assert re.findall(r'data-label="Line">(\d+)<', body) == ["2", "4"]
    # Excel's "Unicode Text" (UTF-16) is refused with what to do instead.
    refused = upload(admin_client, "email,display name\nx@harbour.example,X\n".encode("utf-16"))
    assert refused.status_code == 422 and "save it as" in refused.get_data(as_text=True)


def test_an_import_is_sent_only_by_the_admin_who_saw_it(app, admin_client, session, factory, firm):
    preview = upload(admin_client, "nia.new@harbour.example,Nia New,User\n")
    factory.user(firm["system"], "bo@harbour.example", "Bo Admin", admin=True)
    other_admin = CsrfClient(app)
    sign_in(other_admin, "bo@harbour.example")
    confirm_its_you(other_admin)
    refused = other_admin.post_form(send_path(preview), token_from="/admin/users/import")
    assert refused.status_code == 404
    assert users_named(session, "nia.new@harbour.example") == []


def test_only_an_admin_may_send_a_large_body(app, firm):
    """The 4 MB allowance is for a signed-in admin: anyone else is stopped at
    64 KB before the form is read."""
    colleague = CsrfClient(app)
    sign_in(colleague, "zoe@harbour.example")
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(b"x" * 200_000), "a.csv")})
    for client in (app.test_client(), colleague):
        response = client.post(
            "/admin/users/import",
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        assert response.status_code == 413


def test_a_row_taken_at_the_very_moment_of_sending_loses_only_itself(
    admin_client, session, factory, firm, monkeypatch
):
    """The email is taken between the send's own check and its INSERT (simulated:
    the check sees nothing): the unique index refuses the batch, and the batch
    is inserted again one row at a time, so only that row is lost."""
    rows = "".join(f"p{n}@harbour.example,P {n},User\n" for n in range(5))
    preview = upload(admin_client, rows)
    factory.user(firm["system"], "p2@harbour.example", "P Two Meanwhile")
    monkeypatch.setattr(user_import, "taken_emails", lambda session, emails: set())
    admin_client.post_form(send_path(preview), token_from="/admin/users/import")
    message = admin_client.get("/admin/users").get_data(as_text=True)
    assert (
        "Invitations sent to 4 people. 1 skipped: p2@harbour.example (taken since the preview)."
        in message
    )
    assert sorted(email.recipient for email in emails(session, "invitation")) == [
        f"p{n}@harbour.example" for n in (0, 1, 3, 4)
    ]
    assert users_named(session, "p2@harbour.example")[0].display_name == "P Two Meanwhile"
