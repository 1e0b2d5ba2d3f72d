"""My Profile → "Change password": the current password (a wrong one counts
toward the account's limit), the rules, a fresh code for users with MFA; the
other sessions end, this one stays; emailed and audited."""

from __future__ import annotations

import html
import re

from werkzeug.datastructures import MultiDict

from tests.conftest import PASSWORD, CsrfClient, sign_in
from tests.mfa_support import enable_mfa, password_step, signed_in, submit_code
from tests.passwords.conftest import NEW_PASSWORD, actions, emails
from webapp.passwords import rules
from webapp.passwords.routes import CHANGED
from webapp.passwords.services import WRONG_CURRENT

CONFIRM = "Confirm it&#39;s you"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
FORM = re.compile(r'<form method="post" action="([^"]+)"')


def change(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None, **kw):
    return client.post_form(
        "/profile/password",
        {"old_password": current, "new_password": new, "confirm_password": confirm or new},
        token_from="/profile/password",
        **kw,
    )


def test_the_profile_offers_change_password_as_a_dialog_and_a_page(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    assert "Change password" in client.get("/profile").get_data(as_text=True)
    page = client.get("/profile/password").get_data(as_text=True)
    for label in ("Current password", "New password", "Confirm new password", ">Save<"):
        assert label in page
    fragment = client.get("/profile/password", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert fragment.lstrip().startswith("<dialog")


def test_a_change_keeps_this_session_and_ends_the_others(app, client, factory, session, clock):
    factory.user(email="ann@example.com")
    other = CsrfClient(app)
    sign_in(other, "ann@example.com")
    sign_in(client, "ann@example.com")
    done = change(client)
    assert done.status_code == 302 and done.headers["Location"] == "/profile"
    assert CHANGED in client.get("/profile").get_data(as_text=True)
    assert signed_in(client)
    assert not signed_in(other)
    assert sign_in(CsrfClient(app), "ann@example.com", NEW_PASSWORD).status_code == 302
    assert sign_in(CsrfClient(app), "ann@example.com", PASSWORD).status_code == 422
    changed = emails(session, "password_changed", "ann@example.com")
    assert len(changed) == 1 and "on My Profile" in changed[0].body_text
    [event] = actions(session, "password.changed")
    assert event.actor_id == event.subject_id


def test_in_the_dialog_success_closes_it(client, factory):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    done = change(client, headers={"HX-Request": "true", "HX-Target": "password-dialog-body"})
    assert done.status_code == 200 and "closeDialog" in done.headers["HX-Trigger-After-Settle"]
    assert CHANGED in done.get_data(as_text=True)


def test_the_rules_apply(client, factory):
    factory.user(email="ann@example.com", system=factory.system(name="Quayside Legal"))
    sign_in(client, "ann@example.com")
    for new, message in [
        ("short", rules.TOO_SHORT),
        ("quayside legal 2026", rules.HAS_FIRM),
        ("Password1234!", rules.COMMON),
    ]:
        refused = change(client, new=new)
        assert refused.status_code == 422
        assert message.replace("'", "&#39;") in refused.get_data(as_text=True)
    assert rules.MISMATCH in change(client, confirm="not the same one at all").get_data(
        as_text=True
    )
    assert sign_in(CsrfClient(client.application), "ann@example.com").status_code == 302


def test_wrong_current_passwords_count_toward_the_account_lock(app, client, factory, clock):
    factory.user(email="ann@example.com")
    sign_in(client, "ann@example.com")
    for _ in range(10):
        wrong = change(client, current="not my password")
        assert wrong.status_code == 422 and WRONG_CURRENT in wrong.get_data(as_text=True)
    # Locked: even the right current password is refused, and so is signing in.
    right = change(client)
    assert right.status_code == 422
    assert "Too many wrong passwords for this account." in right.get_data(as_text=True)
    assert sign_in(CsrfClient(app), "ann@example.com").status_code == 429


def test_a_user_with_mfa_gives_a_fresh_code_first(app, client, factory, session, clock):
    user = factory.user(email="ann@example.com")
    enable_mfa(app, session, user)
    password_step(client, "ann@example.com")
    submit_code(client, clock.code())
    clock.advance(seconds=30)
    prompt = change(client)
    body = prompt.get_data(as_text=True)
    assert prompt.status_code == 200 and CONFIRM in body and 'name="code"' in body
    assert actions(session, "password.changed") == []  # nothing before the proof
    step = body.split('<div class="step-up">', 1)[1]
    data = MultiDict([(html.unescape(n), html.unescape(v)) for n, v in HIDDEN.findall(step)])
    data["code"] = clock.code()
    done = client.post(html.unescape(FORM.search(step).group(1)), data=data)
    assert done.status_code == 302 and done.headers["Location"] == "/profile"
    assert len(actions(session, "password.changed")) == 1
    assert signed_in(client)
