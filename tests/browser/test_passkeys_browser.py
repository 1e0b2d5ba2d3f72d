"""Passkeys in Chromium with its virtual authenticator (CDP WebAuthn domain):
the real ceremonies, the app served on http://localhost:PORT (a relying party
id must be a domain, never an IP address)."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from playwright.sync_api import expect
from sqlmodel import select

from tests.browser.conftest import browser_page, browser_sign_in, check_page, serving
from tests.conftest import PASSWORD
from tests.passkey_support import Credential
from webapp.models import Passkey, System, User, utcnow

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture
def localhost_server(app):
    """The test's app (each database) on localhost, its BASE_URL the same origin."""
    with serving(app) as url:
        local = url.replace("127.0.0.1", "localhost")
        app.config["BASE_URL"] = local
        yield local


def add_authenticator(page) -> tuple[object, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp, added["authenticatorId"]


def methods(page):
    return page.get_by_role("list", name="Your sign-in methods").get_by_role("listitem")


def test_add_passkeys_remove_one_sign_in_with_password_and_passkey_then_passkey_alone(
    browser, localhost_server, factory
):
    factory.user(email="zoe@example.com", name="Zoë Brown")
    with browser_page(browser, localhost_server) as page:
        cdp, first = add_authenticator(page)
        browser_sign_in(page, "zoe@example.com", PASSWORD)
        expect(page.locator("#mfa-row")).to_contain_text("Not configured")

        # "Confirm it's you" first (the password: no MFA yet), then the ceremony.
        page.get_by_role("button", name="Add a passkey").click()
        adding = page.get_by_role("dialog", name="Add a passkey")
        adding.get_by_role("button", name="Continue").click()
        adding.get_by_label("Password").fill(PASSWORD)
        adding.get_by_role("button", name="Confirm").click()
        # The first passkey turns MFA on: recovery codes once, then its name.
        adding.get_by_role("button", name="Create passkey").click()
        dialog = page.get_by_role("dialog", name="Name your passkey")
        expect(dialog).to_be_visible()
        expect(
            dialog.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        ).to_have_count(10)
        expect(page.locator("#mfa-row")).to_contain_text("Enabled")
        expect(dialog.get_by_label("Name")).to_have_value("Chrome on Linux")
        check_page(page, "Name your passkey, with recovery codes", widths=(1280, 320))
        dialog.get_by_label("Name").fill("Laptop")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_have_count(0)
        expect(methods(page)).to_have_count(1)
        expect(methods(page).first).to_contain_text("Laptop")
        check_page(page, "My Profile with a passkey")

        # The same authenticator again (the proof still fresh): the browser refuses (excludeCredentials).
        page.get_by_role("button", name="Add a passkey").click()
        page.get_by_role("dialog", name="Add a passkey").get_by_role("button", name="Create passkey").click()
        expect(page.get_by_text("This passkey is already added.")).to_be_visible()

        # A second passkey, on another authenticator.
        cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
        cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
        page.get_by_role("button", name="Create passkey").click()
        dialog = page.get_by_role("dialog", name="Name your passkey")
        # Free again: the first was renamed "Laptop".
        expect(dialog.get_by_label("Name")).to_have_value("Chrome on Linux")
        dialog.get_by_role("button", name="Keep this name").click()
        expect(methods(page)).to_have_count(2)

        # Remove the first (its authenticator is gone).
        methods(page).filter(has_text="Laptop").get_by_role("button", name="Remove").click()
        dialog = page.get_by_role("dialog", name="Remove passkey")
        expect(dialog).to_be_visible()
        check_page(page, "Remove passkey", widths=(1280, 320))
        dialog.get_by_role("button", name="Remove").click()
        expect(page.get_by_text("Passkey “Laptop” removed.")).to_be_visible()
        expect(methods(page)).to_have_count(1)
        expect(methods(page).first).to_contain_text("not used yet")

        # Password, then "Use a passkey" (no app: no code field).
        page.get_by_role("navigation", name="Global toolbar").get_by_role("button", name="Sign out").click()
        browser_sign_in(page, "zoe@example.com", PASSWORD)
        expect(page.get_by_label("Verification code")).to_have_count(0)
        expect(page.get_by_role("link", name="Use a recovery code")).to_be_visible()
        expect(page.get_by_role("button", name="Use a passkey")).to_be_visible()
        check_page(page, "The code step with a passkey only", widths=(1280, 320))
        page.get_by_role("button", name="Use a passkey").click()
        expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
        expect(methods(page).first).to_contain_text("last used")

        # Passwordless: the discoverable passkey, with user verification, is the whole sign-in.
        toolbar = page.get_by_role("navigation", name="Global toolbar")
        toolbar.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
        check_page(page, "Sign in with a passkey", widths=(1280, 320))
        page.get_by_role("button", name="Sign in with a passkey").click()
        expect(page.get_by_role("heading", name="My Profile")).to_be_visible()


def seed_passkey(session, user: User, cdp, authenticator_id: str) -> None:
    """`user`'s only method: a passkey that the virtual authenticator holds
    (WebAuthn.addCredential) and the database knows (MFA on with it)."""
    credential = Credential(
        credential_id=secrets.token_bytes(16),
        key=ec.generate_private_key(ec.SECP256R1()),
        user_handle=secrets.token_bytes(32),
    )
    private_key = credential.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    cdp.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator_id,
            "credential": {
                "credentialId": base64.b64encode(credential.credential_id).decode(),
                "isResidentCredential": True,
                "rpId": "localhost",
                "privateKey": base64.b64encode(private_key).decode(),
                "userHandle": base64.b64encode(credential.user_handle).decode(),
                "signCount": 0,
            },
        },
    )
    row = session.get(User, user.id)
    row.mfa_enabled, row.mfa_enabled_at = True, utcnow()
    session.add(row)
    session.add(
        Passkey(
            user_id=user.id,
            credential_id=credential.credential_id,
            public_key=credential.cose_public_key(),
            user_handle=credential.user_handle,
            name="Laptop",
        )
    )
    session.commit()


def test_a_passkey_only_admin_confirms_its_you_with_a_passkey(
    browser, localhost_server, factory, session
):
    system = factory.system(name="Harbour Law", accounting="xero")
    ann = factory.user(system, "ann@harbour.example", "Ann Admin", admin=True)
    zoe = factory.user(system, "zoe@harbour.example", "Zoë Brown")
    with browser_page(browser, localhost_server) as page:
        cdp, authenticator = add_authenticator(page)
        seed_passkey(session, ann, cdp, authenticator)
        browser_sign_in(page, "ann@harbour.example", PASSWORD)
        page.get_by_role("button", name="Use a passkey").click()
        expect(page.get_by_role("heading", name="My Profile")).to_be_visible()

        # In place, in the Edit user dialog: the Save it held back is carried out.
        page.goto("/admin/users")
        page.get_by_role("row", name="Zoë Brown").get_by_role("link", name="Edit").click()
        dialog = page.get_by_role("dialog", name="Edit user")
        dialog.get_by_label("Role").select_option("admin")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog.get_by_role("heading", name="Confirm it's you")).to_be_visible()
        expect(dialog.get_by_label("Authentication code")).to_be_visible()  # a recovery code
        check_page(page, "Confirm it's you with a passkey", widths=(1280, 320))
        dialog.get_by_role("button", name="Use a passkey").click()
        expect(page.get_by_text("Saved Zoë Brown.")).to_be_visible()
        expect(page.get_by_role("dialog")).to_have_count(0)
        session.expire_all()
        assert session.get(User, zoe.id).role == "admin"

        # As a page (a form without htmx), once the proof is over.
        sign_out_and_in_again(page)
        page.goto("/admin/security")
        page.get_by_label("Country", exact=True).select_option("AU")
        page.get_by_role("button", name="Save country and accounting").click()
        expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
        page.get_by_role("button", name="Use a passkey").click()
        expect(page.get_by_text("Saved the country and accounting link.")).to_be_visible()
        session.expire_all()
        assert session.get(System, system.id).country == "AU"
        passkey = session.exec(select(Passkey).where(Passkey.user_id == ann.id)).one()
        assert passkey.sign_count == 4  # two sign-ins, two proofs


def sign_out_and_in_again(page) -> None:
    """A new session: no proof in it."""
    page.get_by_role("navigation", name="Global toolbar").get_by_role(
        "button", name="Sign out"
    ).click()
    browser_sign_in(page, "ann@harbour.example", PASSWORD)
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
