"""Step-up ("Confirm it's you"): each sensitive action needs a fresh proof in
this browser session, and the original request is carried out after it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.admin.conftest import BILLING, edit_form, enable_mfa
from tests.conftest import PASSWORD, sign_in
from tests.mfa_support import SECRET, submit_code
from tests.step_up_support import CONFIRM, answer, confirm_its_you
from webapp.models import AuditEvent, HeadsUpRule, StepUpProof, System, User
from webapp.tasks import run_retention

clock = mfa_support.clock  # the fixture, under its own name

HX_DIALOG = {"HX-Request": "true", "HX-Target": "edit-user-body"}


@pytest.fixture
def firm(factory):
    system = factory.system(name="Harbour Law", accounting="xero")
    return {
        "system": system,
        "ann": factory.user(system, "ann@harbour.example", "Ann Admin", admin=True),
        "ben": factory.user(system, "ben@harbour.example", "Ben Admin", admin=True),
        "zoe": factory.user(system, "zoe@harbour.example", "Zoë Brown"),
    }


@pytest.fixture
def ann_client(client, firm, clock):
    """Ann (no MFA, the firm does not require it) signed in: no proof yet."""
    sign_in(client, "ann@harbour.example")
    return client


def fresh(session, model, row_id):
    session.expire_all()
    return session.get(model, row_id)


def actions(session) -> list[str]:
    session.expire_all()
    return [event.action for event in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


# What each sensitive action sends and what it changes (read back afterwards).
def edit_role(firm):
    return f"/admin/users/{firm['zoe'].id}", edit_form(firm["zoe"], role="admin")


def edit_active(firm):
    return f"/admin/users/{firm['zoe'].id}", edit_form(firm["zoe"], active=None)


def country(firm):
    return "/admin/security/system", {"country": "AU", "accounting": "xero"}


def heads_up(firm):
    return "/admin/security/heads-up", {"enabled": "y", "kind": "without_mfa", "hour": "9", "recipients": "all"}


def remind_everyone(firm):
    return "/admin/reminders/everyone", {}


def changed(name, session, firm, mailbox) -> bool:
    zoe = fresh(session, User, firm["zoe"].id)
    system = fresh(session, System, firm["system"].id)
    return {
        "edit_role": lambda: zoe.role == "admin",
        "edit_active": lambda: not zoe.active,
        "country": lambda: system.country == "AU",
        "heads_up": lambda: (session.exec(select(HeadsUpRule)).first() or HeadsUpRule()).hour == 9,
        "remind_everyone": lambda: len(mailbox()) > 0,
    }[name]()


ACTIONS = [edit_role, edit_active, country, heads_up, remind_everyone]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
def test_a_sensitive_action_asks_first_and_is_carried_out_after_the_password(
    ann_client, session, firm, mailbox, action
):
    path, data = action(firm)
    prompt = ann_client.post_form(path, data, token_from="/admin/security")
    assert prompt.status_code == 200
    body = prompt.get_data(as_text=True)
    assert CONFIRM in body and 'name="current_password"' in body and 'name="code"' not in body
    assert not changed(action.__name__, session, firm, mailbox)  # nothing before the proof

    wrong = answer(ann_client, prompt, current_password="not it")
    assert wrong.status_code == 422 and "That password is not right." in wrong.get_data(as_text=True)
    assert not changed(action.__name__, session, firm, mailbox)

    done = answer(ann_client, wrong, current_password=PASSWORD)
    assert done.status_code == 302
    assert changed(action.__name__, session, firm, mailbox)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.step_up")).one()
    assert (event.actor_id, event.details["method"], event.details["path"]) == (
        firm["ann"].id,
        "password",
        path,
    )
    # Fresh for 10 minutes: the next sensitive action goes straight through.
    again = ann_client.post_form(
        "/admin/security/system", {"country": "NZ", "accounting": "other"}, token_from="/admin/security"
    )
    assert again.status_code == 302
    assert fresh(session, System, firm["system"].id).accounting_link == "other"


def test_single_sign_on_settings_ask_first(ann_client, session, firm):
    for path in ("/admin/security/sso", "/admin/security/sso/secret", "/admin/security/sso/test",
                 "/admin/security/sso/requirement"):
        prompt = ann_client.post_form(path, {"issuer": "https://x.example"}, token_from="/admin/security")
        assert prompt.status_code == 200 and CONFIRM in prompt.get_data(as_text=True), path
    assert "sso.settings_changed" not in actions(session)


def test_a_rename_alone_needs_no_proof(ann_client, session, firm):
    response = ann_client.post_form(
        *[f"/admin/users/{firm['zoe'].id}", edit_form(firm["zoe"], display_name="Zoë B")],
        token_from="/admin/security",
    )
    assert response.status_code == 302 and fresh(session, User, firm["zoe"].id).display_name == "Zoë B"


def test_mfa_reset_in_the_dialog_asks_in_place_with_a_code_then_closes_it(
    app, client, session, firm, clock, mailbox
):
    enable_mfa(app, session, firm["zoe"].id)
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    clock.advance(seconds=30)  # the sign-in's code is used: the next one proves
    zoe = fresh(session, User, firm["zoe"].id)
    prompt = client.post_form(
        f"/admin/users/{zoe.id}",
        edit_form(zoe, mfa_enabled=None, accept_billing="y"),
        token_from="/admin/security",
        headers=HX_DIALOG,
    )
    body = prompt.get_data(as_text=True)
    assert prompt.status_code == 200 and "<html" not in body  # the dialog's body, in place
    assert 'hx-target="#edit-user-body"' in body and 'name="current_password"' not in body
    assert fresh(session, User, zoe.id).mfa_enabled

    done = answer(client, prompt, headers=HX_DIALOG, code=clock.code())
    assert done.status_code == 200 and "closeDialog" in done.headers["HX-Trigger-After-Settle"]
    assert not fresh(session, User, zoe.id).mfa_enabled
    assert [m["To"] for m in mailbox()] == ["zoe@harbour.example"]
    assert "auth.step_up" in actions(session) and "mfa.reset_by_admin" in actions(session)


def test_requiring_mfa_asks_an_admin_with_mfa_for_a_code(app, client, session, firm, clock):
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    clock.advance(seconds=30)
    prompt = client.post_form(
        "/admin/security/enforcement", {"required": "y", "grace_days": "7"}, token_from="/admin/security"
    )
    assert prompt.status_code == 200 and 'name="code"' in prompt.get_data(as_text=True)
    assert not fresh(session, System, firm["system"].id).mfa_required
    assert answer(client, prompt, code=clock.code()).status_code == 302
    system = fresh(session, System, firm["system"].id)
    assert (system.mfa_required, system.mfa_grace_days) == (True, 7)
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "auth.step_up")).one().details[
        "method"
    ] == "code"


def test_an_htmx_action_outside_a_dialog_gets_a_dialog_of_its_own(ann_client):
    response = ann_client.post_form(
        "/admin/security/sso/test", {}, token_from="/admin/security", headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Retarget"] == "#dialog-slot"
    body = response.get_data(as_text=True)
    assert '<dialog id="step-up"' in body and "data-modal" in body and 'hx-target="#step-up-body"' in body


def test_wrong_codes_count_toward_the_wrong_code_lock(app, client, session, firm, clock):
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    prompt = client.post_form(*country(firm), token_from="/admin/security")
    for _attempt in range(5):
        prompt = answer(client, prompt, code="000000" if clock.code() != "000000" else "111111")
    assert prompt.status_code == 429
    assert "Too many wrong codes" in prompt.get_data(as_text=True)
    assert fresh(session, User, firm["ann"].id).mfa_locked_until is not None
    clock.advance(seconds=30)
    locked = answer(client, prompt, code=clock.code())  # even the right code, while locked
    assert locked.status_code == 429 and fresh(session, System, firm["system"].id).country == "NZ"
    assert actions(session).count("signin.mfa_failed") == 5


def test_the_proof_expires_after_10_minutes(ann_client, session, firm, clock):
    confirm_its_you(ann_client)
    clock.advance(minutes=9, seconds=59)
    assert ann_client.post_form(*edit_role(firm), token_from="/admin/security").status_code == 302
    clock.advance(seconds=2)
    prompt = ann_client.post_form(*edit_active(firm), token_from="/admin/security")
    assert CONFIRM in prompt.get_data(as_text=True) and fresh(session, User, firm["zoe"].id).active


def test_the_proof_belongs_to_this_browser_session_only(app, ann_client, session, firm):
    confirm_its_you(ann_client)
    other = app.test_client()
    sign_in(other, "ann@harbour.example")  # Ann in another browser
    assert CONFIRM in other.post_form(*edit_role(firm), token_from="/admin/security").get_data(as_text=True)
    # Sign-out ends it; signing in again starts without one.
    ann_client.post_form("/sign-out", token_from="/admin/security")
    sign_in(ann_client, "ann@harbour.example")
    again = ann_client.post_form(*edit_role(firm), token_from="/admin/security")
    assert CONFIRM in again.get_data(as_text=True)
    assert fresh(session, User, firm["zoe"].id).role == "user"


def test_the_password_is_no_proof_for_mfa_users_or_where_the_firm_requires_mfa(
    app, client, session, firm, clock
):
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    prompt = client.post_form(*country(firm), token_from="/admin/security")
    refused = answer(client, prompt, current_password=PASSWORD)
    assert refused.status_code == 200 and CONFIRM in refused.get_data(as_text=True)
    assert fresh(session, System, firm["system"].id).country == "NZ"

    ben_row = fresh(session, User, firm["ben"].id)
    system = fresh(session, System, firm["system"].id)
    system.mfa_required, system.mfa_required_since, system.mfa_grace_days = True, clock.now, 7
    ben_row.mfa_deadline = clock.now + timedelta(days=7)
    session.add_all([system, ben_row])
    session.commit()
    ben = app.test_client()
    sign_in(ben, "ben@harbour.example")  # no MFA, in his grace period
    prompt = ben.post_form(*country(firm), token_from="/admin/security")
    body = prompt.get_data(as_text=True)
    assert prompt.status_code == 403 and "set it up first" in body
    assert 'name="current_password"' not in body and 'name="code"' not in body
    assert fresh(session, System, firm["system"].id).country == "NZ"


def test_new_recovery_codes_need_the_code_unless_the_session_has_a_fresh_proof(
    app, client, session, firm, clock
):
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    hx = {"HX-Request": "true", "HX-Target": "mfa-dialog-body"}
    refused = client.post_form("/profile/mfa/recovery-codes", {}, token_from="/profile", headers=hx)
    assert refused.status_code == 422 and "<li><code>" not in refused.get_data(as_text=True)
    clock.advance(seconds=30)
    confirm_its_you(client, code=clock.code())
    dialog = client.get("/profile/mfa/recovery-codes", headers=hx).get_data(as_text=True)
    assert "Authentication code" not in dialog
    made = client.post_form("/profile/mfa/recovery-codes", {}, token_from="/profile", headers=hx)
    assert made.status_code == 200 and made.get_data(as_text=True).count("<li><code>") == 10
    clock.advance(minutes=10, seconds=1)
    expired = client.post_form("/profile/mfa/recovery-codes", {}, token_from="/profile", headers=hx)
    assert expired.status_code == 422


def test_an_admin_cannot_remove_their_own_mfa_through_edit_user(
    app, client, session, firm, clock
):
    mfa_support.enable_mfa(app, session, firm["ann"], secret=SECRET)
    sign_in(client, "ann@harbour.example")
    assert submit_code(client, clock.code()).status_code == 302
    clock.advance(seconds=30)
    confirm_its_you(client, code=clock.code())
    ann = fresh(session, User, firm["ann"].id)
    page = client.get(f"/admin/users/{ann.id}").get_data(as_text=True)
    assert "My Profile → Deactivate" in page and BILLING not in page
    # Saving her own row as shown keeps MFA on; a crafted POST without it is refused.
    assert client.post_form(f"/admin/users/{ann.id}", edit_form(ann, display_name="Ann A")).status_code == 302
    crafted = client.post_form(
        f"/admin/users/{ann.id}", edit_form(ann, mfa_enabled=None, accept_billing="y")
    )
    assert crafted.status_code == 422
    assert "Use My Profile → Deactivate" in crafted.get_data(as_text=True)
    ann = fresh(session, User, ann.id)
    assert ann.mfa_enabled and ann.display_name == "Ann A"
    assert "mfa.reset_by_admin" not in actions(session)


def test_proofs_are_deleted_by_the_retention_run(ann_client, session, clock):
    confirm_its_you(ann_client)
    clock.advance(minutes=10)
    assert run_retention.delay().get()["step-up proofs"] == 1
    assert session.exec(select(StepUpProof)).all() == []
