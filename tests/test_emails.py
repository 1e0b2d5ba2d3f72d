"""Every email looks like a product's: multipart/alternative with a readable text
part and an HTML part from the one layout (the firm's name, a heading, one primary
button-link, a footer saying why), `Date` and `Message-ID` headers, and names
escaped in HTML but plain in text. Each kind is produced by its real flow and
delivered through the outbox's file transport."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from markupsafe import escape

from tests import mfa_support
from tests.admin.conftest import edit_form
from tests.admin.conftest import enable_mfa as enable_mfa_for_reset
from tests.conftest import sign_in
from tests.heads_up_helpers import add_admin, add_users, tick
from tests.step_up_support import confirm_its_you
from tests.test_mfa_enrolment import activate, save, stored_secret
from webapp import mail
from webapp.models import System, User

clock = mfa_support.clock  # the fixture, under its own name

FIRM = "Kauri <&> Co"
ESCAPED_FIRM = "Kauri &lt;&amp;&gt; Co"
MORNING_IN_AUCKLAND = datetime(2026, 11, 26, 19, 30, tzinfo=UTC)  # 08:30 NZDT


def delivered(app, session, mailbox) -> list:
    """Send every due outbox row (as the sweep does); the messages written."""
    with app.app_context():
        mail.sweep(session, datetime.now(UTC) + timedelta(days=30))
    return mailbox()


def parts(message) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text_part, html_part = message.iter_parts()
    assert (text_part.get_content_type(), html_part.get_content_type()) == (
        "text/plain",
        "text/html",
    )
    return text_part.get_content(), html_part.get_content()


def assert_product_email(message, *, heading: str, button: str | None, reason: str) -> tuple:
    """The shared layout's parts, in both bodies; returns (text, html)."""
    date = parsedate_to_datetime(message["Date"])
    assert abs(date - datetime.now(UTC)) < timedelta(minutes=5)
    assert re.fullmatch(r"<[\d.]+\.outbox-\d+@127\.0\.0\.1>", message["Message-ID"])
    text, html = parts(message)
    assert text.startswith(f"{FIRM}\n\n{heading}\n{'=' * len(heading)}\n")
    assert f'font-weight:700;">{ESCAPED_FIRM}</td>' in html  # the header bar
    assert f">{escape(heading)}</h1>" in html
    assert reason in text and escape(reason) in html
    assert f"Sent by Firmguard, the sign-in security of {FIRM}." in text
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)
    if button is None:
        assert links == []
    else:
        assert [label for _, label in links] == [escape(button)]  # one button-link, nothing else
        assert "background:#1d5bbf" in html
        assert f"{button}:\n{links[0][0]}\n" in text
    assert "<script" not in html and "<style" not in html  # inline styles only
    assert 'name="viewport"' in html and "max-width:600px" in html  # fluid on phones
    return text, html


@pytest.fixture
def kauri(factory, session):
    system = factory.system(name=FIRM, country="NZ", accounting="xero")
    return session.get(System, system.id)


def test_mfa_on_and_off_emails(app, client, factory, session, kauri, clock, mailbox):
    zoe = factory.user(kauri, "zoe@kauri.example", "Zoë <b>Brown</b>")
    sign_in(client, "zoe@kauri.example")
    activate(client)
    secret = stored_secret(app, session, zoe)
    save(client, clock.code(secret), clock.code(secret, steps=1))
    clock.advance(seconds=60)
    client.post_form("/profile/mfa/deactivate", {"code": clock.code(secret)}, token_from="/profile")
    enabled, disabled = delivered(app, session, mailbox)

    text, html = assert_product_email(
        enabled,
        heading="Multi-factor authentication is on",
        button="Open My Profile",
        reason="You received this email because the sign-in settings of your account changed.",
    )
    assert "Hello Zoë <b>Brown</b>," in text and "Hello Zoë &lt;b&gt;Brown&lt;/b&gt;," in html
    text, html = assert_product_email(
        disabled,
        heading="Multi-factor authentication is off",
        button="Set it up again",
        reason="You received this email because the sign-in settings of your account changed.",
    )
    assert "change your password" not in text  # the product has no such screen yet


def test_admin_reset_email(app, client, factory, session, kauri, mailbox):
    factory.user(kauri, "ann@harbour.example", "Ann <Admin>", admin=True)
    jose = factory.user(kauri, "jose@kauri.example", "José Álvarez")
    enable_mfa_for_reset(app, session, jose.id)
    sign_in(client, "ann@harbour.example")
    confirm_its_you(client)  # a reset is a sensitive action
    client.post_form(
        f"/admin/users/{jose.id}",
        edit_form(session.get(User, jose.id), mfa_enabled=None, accept_billing="y"),
    )
    [message] = delivered(app, session, mailbox)
    text, html = assert_product_email(
        message,
        heading="Your multi-factor authentication was reset",
        button="Set up MFA again",
        reason="changed the sign-in settings of your account.",
    )
    assert "Ann <Admin>, an administrator of" in text
    assert "Ann &lt;Admin&gt;, an administrator of" in html


def test_lock_email(app, client, factory, session, kauri, clock, mailbox):
    user = factory.user(kauri, "ann@kauri.example", "Ann Lee")
    mfa_support.enable_mfa(app, session, user)
    mfa_support.password_step(client, "ann@kauri.example")
    wrong = "000000" if clock.code() != "000000" else "111111"
    for _ in range(5):
        mfa_support.submit_code(client, wrong)
    [message] = delivered(app, session, mailbox)
    text, _ = assert_product_email(
        message,
        heading="Your sign-in codes were locked after wrong attempts",
        button="Sign in",
        reason="You received this email because wrong codes were entered for your account.",
    )
    assert "password" in text and "change" not in text  # no screen changes a password yet


def test_reminder_and_heads_up_emails(app, session, kauri, mailbox):
    admin = add_admin(session, kauri, "Ada <i>Admin</i>")
    add_users(session, kauri, ["Zoë Brown", "José Álvarez", "Mere Tūhoe"])
    add_users(session, kauri, ["Eve Enrolled"], mfa=True)
    tick(app, session, MORNING_IN_AUCKLAND)
    messages = delivered(app, session, mailbox)
    reminders = [m for m in messages if m["Subject"].startswith("Please set up")]
    [digest] = [m for m in messages if m["Subject"].startswith("Heads up")]
    assert len(reminders) == 4  # everyone without MFA, the admin too

    assert_product_email(
        reminders[0],
        heading=f"Please set up multi-factor authentication for {FIRM}",
        button="Set up MFA now",
        reason="does not use multi-factor authentication yet; it stops once it does.",
    )
    text, html = assert_product_email(
        digest,
        heading=f"Heads up: 4 of 5 users of {FIRM} lack MFA",
        button="See them in Users & permissions",
        reason=f"because you are an admin of {FIRM} and its daily heads-up email is on",
    )
    # Adoption as a bar: 20 % filled, the rest empty; in text, 4 of 20 marks.
    assert re.search(r'<td width="20%" style="height:14px;background:#17703a;', html)
    assert "MFA adoption: 20% (1 of 5 active users)" in text
    assert "[####----------------]" in text
    assert "Ada <i>Admin</i> <" in text and "Ada &lt;i&gt;Admin&lt;/i&gt;" in html
    assert "previous heads-up" not in text  # the first digest has nothing to compare

    # Next morning, after one user set MFA up: the change since the previous digest.
    zoe = session.get(User, admin.id + 1)
    zoe.mfa_enabled = True
    session.add(zoe)
    session.commit()
    tick(app, session, MORNING_IN_AUCKLAND + timedelta(days=1))
    [second] = [
        m for m in delivered(app, session, mailbox)[len(messages) :] if "Heads up" in m["Subject"]
    ]
    text, html = parts(second)
    change = "1 fewer user without MFA than at the previous heads-up, on 27 Nov 2026."
    assert change in text and change in html
    assert "MFA adoption: 40% (2 of 5 active users)" in text
