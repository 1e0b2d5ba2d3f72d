"""Fewer dead ends for users: forced enrolment without a loop, lock messages in
words, code fields that say how long and which keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from tests import mfa_support
from tests.conftest import sign_in
from webapp import timefmt
from webapp.models import System, User

clock = mfa_support.clock  # the fixture, under its own name


# --- Forced enrolment: no loop, a reason, a way out ---------------------------


def test_forced_enrolment_says_why_and_offers_sign_out_not_cancel(client, factory, session):
    system = factory.system(name="Strict Law")
    factory.user(system, "zoe@strict.example", "Zoë Brown", admin=True)
    row = session.get(System, system.id)
    row.mfa_required = True
    session.add(row)
    session.commit()
    sign_in(client, "zoe@strict.example")
    page = client.get("/profile/mfa/setup").get_data(as_text=True)
    assert "Strict Law requires multi-factor authentication for every user." in page
    assert "before you can use anything else" in page
    assert ">Cancel<" not in page
    assert page.count(">Sign out</button>") == 1  # in the window; the toolbar has no loop
    assert 'href="/profile" class="profile-link"' not in page and ">Admin</a>" not in page
    client.post_form("/profile/mfa/setup", token_from="/profile/mfa/setup")
    with_key = client.get("/profile/mfa/setup").get_data(as_text=True)
    assert ">Cancel<" not in with_key and ">Sign out</button>" in with_key


# --- Lock messages and code fields ---------------------------------------------


@pytest.mark.parametrize(
    "seconds, words",
    [
        (1, "1 minute"),
        (60, "1 minute"),
        (61, "2 minutes"),
        (3600, "1 hour"),
        (5460, "1 hour 31 minutes"),
    ],
)
def test_a_wait_in_words(seconds, words):
    assert timefmt.duration_in_words(timedelta(seconds=seconds)) == words


def test_a_lock_ending_tomorrow_names_the_day():
    now = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)  # 23:30 NZDT
    assert timefmt.wait_in_words(now, now + timedelta(hours=1), "Pacific/Auckland") == (
        "in 1 hour, at 00:30 NZDT on 2 Dec 2026"
    )
    assert timefmt.wait_in_words(now, now + timedelta(minutes=2), "Pacific/Auckland") == (
        "in 2 minutes, at 23:32 NZDT"
    )


def test_every_code_field_says_how_long_and_which_keyboard(client, factory, app, session, clock):
    user = factory.user(email="ann@example.com")
    mfa_support.enable_mfa(app, session, user)
    mfa_support.password_step(client, "ann@example.com")
    verify = client.get("/sign-in/verify").get_data(as_text=True)
    recovery = client.get("/sign-in/recovery").get_data(as_text=True)
    assert re.search(r'<input[^>]*id="code"[^>]*inputmode="numeric"[^>]*>', verify)
    assert 'maxlength="7"' in verify and 'autocomplete="one-time-code"' in verify
    assert 'maxlength="11"' in recovery and 'inputmode="text"' in recovery
    assert mfa_support.submit_code(client, clock.code()).status_code == 302
    deactivate = client.get("/profile/mfa/deactivate").get_data(as_text=True)
    assert 'maxlength="11"' in deactivate and 'inputmode="text"' in deactivate
    codes = client.get("/profile/mfa/recovery-codes").get_data(as_text=True)
    assert 'maxlength="7"' in codes and 'inputmode="numeric"' in codes


def test_setup_code_fields_and_the_account_name(client, factory, session):
    factory.user(email="zoe@example.com")
    sign_in(client, "zoe@example.com")
    client.post_form("/profile/mfa/setup", token_from="/profile")
    page = client.get("/profile/mfa/setup").get_data(as_text=True)
    for field in ("first_code", "second_code"):
        tag = re.search(rf'<input[^>]*id="{field}"[^>]*>', page)[0]
        assert 'maxlength="7"' in tag and 'inputmode="numeric"' in tag
    assert session.exec(select(User)).one().mfa_enabled is False
