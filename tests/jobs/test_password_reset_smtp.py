"""Forgot password end to end: the link and the "password changed" notice go
through the outbox, the worker and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re

from tests import mfa_support
from tests.conftest import CsrfClient, sign_in
from tests.jobs.conftest import wait_until
from tests.mfa_support import enable_mfa, password_step, signed_in, submit_code

clock = mfa_support.clock  # the fixture, for this module

NEW_PASSWORD = "four quiet harbour lamps"  # noqa: S105
LINK = re.compile(r"http://[^/\s]+(/password/reset/[A-Za-z0-9_-]+)")


def test_a_forgotten_password_is_reset_by_email_and_the_code_is_still_asked(
    app, worker, smtp, client, factory, session, clock
):
    user = factory.user(email="zoe@harbour.example", name="Zoë Brown")
    enable_mfa(app, session, user)
    ask = {"token_from": "/password/forgot"}
    unknown = client.post_form("/password/forgot", {"email": "nobody@harbour.example"}, **ask)
    known = client.post_form("/password/forgot", {"email": "zoe@harbour.example"}, **ask)
    assert unknown.status_code == known.status_code == 200
    wait_until(lambda: len(smtp.handler.messages) >= 1, what="the reset email")
    [(recipients, message)] = smtp.handler.messages
    assert recipients == ["zoe@harbour.example"]
    assert message["Subject"] == "Reset your Firmguard password"
    text = message.get_body(("plain",)).get_content()
    assert "30 minutes" in text and "still give your code" in text
    path = LINK.search(text).group(1)

    browser = CsrfClient(app)
    assert browser.get(path).headers["Location"] == "/password/set"
    done = browser.post_form(
        "/password/set", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert done.headers["Location"] == "/sign-in"
    assert not signed_in(browser)  # the link signs nobody in
    wait_until(lambda: len(smtp.handler.messages) >= 2, what="the password-changed email")
    assert smtp.handler.messages[1][1]["Subject"] == "Your Firmguard password was changed"

    # The new password, then the code: MFA is still asked.
    password_step(browser, "zoe@harbour.example", password=NEW_PASSWORD)
    assert not signed_in(browser)
    clock.advance(seconds=30)
    submit_code(browser, clock.code())
    assert signed_in(browser)
    assert browser.get(path).headers["Location"] == "/password/forgot"  # used up
    assert sign_in(CsrfClient(app), "zoe@harbour.example").status_code == 422  # the old password
    assert len(smtp.handler.messages) == 2  # nothing ever went to the unknown address
