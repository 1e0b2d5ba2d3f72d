"""The otpauth URI and QR code are valid under the Key Uri Format for any firm name
or email, and every page names the account exactly as the app will show it.

`parse_key_uri` is a deliberately strict reading of the format (the one Google
Authenticator documents): one literal ':' between issuer and account, neither
of which may contain a colon (so no '%3A' either); everything else
percent-encoded UTF-8 (RFC 3986: only unreserved characters and '@' bare, no
'+' for a space); each parameter once; the `issuer` parameter equal to the
label's prefix.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import mfa_support
from tests.conftest import sign_in
from webapp.mfa import totp

clock = mfa_support.clock  # the fixture, under its own name

ENCODED = r"(?:[A-Za-z0-9\-._~@]|%[0-9A-F]{2})+"
URI = re.compile(rf"^otpauth://totp/(?P<issuer>{ENCODED}):(?P<account>{ENCODED})\?(?P<query>.+)$")
PARAMETER = re.compile(rf"^(?P<key>[a-z]+)=(?P<value>{ENCODED})$")
BASE32 = re.compile(r"^[A-Z2-7]+$")


def strict_unquote(text: str) -> str:
    """Percent-decoding that refuses anything but well-formed UTF-8."""
    return unquote(text, encoding="utf-8", errors="strict")


def parse_key_uri(uri: str) -> dict:
    """Parse `uri` as a TOTP Key URI, failing loudly on anything the format forbids."""
    match = URI.match(uri)
    assert match, f"not otpauth://totp/ISSUER:ACCOUNT?… with an encoded label: {uri!r}"
    issuer, account = (strict_unquote(match[part]) for part in ("issuer", "account"))
    assert ":" not in issuer and ":" not in account, "a colon inside the issuer or account"
    assert issuer.strip() and account.strip(), "an empty issuer or account"
    parameters = {}
    for pair in match["query"].split("&"):
        parameter = PARAMETER.match(pair)
        assert parameter, f"a parameter that is not key=percent-encoded value: {pair!r}"
        assert parameter["key"] not in parameters, f"{parameter['key']} given twice"
        parameters[parameter["key"]] = strict_unquote(parameter["value"])
    assert set(parameters) == {"secret", "issuer", "algorithm", "digits", "period"}
    assert BASE32.match(parameters["secret"]), "the secret is not unpadded base32"
    assert parameters["issuer"] == issuer, "the issuer parameter differs from the label prefix"
    assert (parameters["algorithm"], parameters["digits"], parameters["period"]) == (
        "SHA1",
        "6",
        "30",
    )
    return {"issuer": issuer, "account": account, "secret": parameters["secret"]}


AWKWARD_FIRMS = [
    ("Harbour & Quay Law", "Harbour & Quay Law"),
    ("Smith: Partners", "Smith Partners"),
    ("Zoë Ōtaki & Co", "Zoë Ōtaki & Co"),
    ("A?B=C#D/E%F+G", "A?B=C#D/E%F+G"),
    ("法律事務所 : 東京", "法律事務所 東京"),
    ("Jones::Law\tFirm", "Jones Law Firm"),
    (":::", "Firmguard"),
]


@pytest.mark.parametrize("firm, shown", AWKWARD_FIRMS)
def test_awkward_firm_names_make_valid_uris(firm, shown):
    secret = pyotp.random_base32(32)
    account = totp.AppAccount.of(firm, "zoë.brown+mfa@example.com")
    parsed = parse_key_uri(totp.provisioning_uri(secret, account))
    assert parsed == {"issuer": shown, "account": "zoë.brown+mfa@example.com", "secret": secret}
    # What the apps' own parser reads is the same.
    otp = pyotp.parse_uri(totp.provisioning_uri(secret, account))
    assert (otp.issuer, otp.name, otp.secret) == (shown, "zoë.brown+mfa@example.com", secret)


def test_a_colon_in_an_email_is_replaced_too():
    account = totp.AppAccount.of("Law", '"a:b"@example.com')
    assert parse_key_uri(totp.provisioning_uri("JBSWY3DPEHPK3PXP", account))["account"] == (
        '"a b"@example.com'
    )


@settings(max_examples=300, deadline=None)
@given(
    firm=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=80),
    local=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
)
def test_any_firm_name_and_email_make_a_valid_uri(firm, local):
    account = totp.AppAccount.of(firm, f"{local}@example.com")
    parsed = parse_key_uri(totp.provisioning_uri("JBSWY3DPEHPK3PXP", account))
    assert (parsed["issuer"], parsed["account"]) == (account.issuer, account.name)


@pytest.fixture
def colon_firm_user(client, factory, clock):
    system = factory.system(name="Smith: Jones & Co")
    user = factory.user(system, "zoe@smith.example", "Zoë Brown")
    sign_in(client, "zoe@smith.example")
    return user


def test_the_setup_window_and_the_verify_page_name_the_account_as_the_qr_code_does(
    app, client, session, colon_firm_user, clock
):
    from tests.test_mfa_enrolment import HX, stored_secret

    dialog = client.post_form("/profile/mfa/setup", token_from="/profile", headers=HX).get_data(
        as_text=True
    )
    secret = stored_secret(app, session, colon_firm_user)
    expected = totp.AppAccount("Smith Jones & Co", "zoe@smith.example")
    # The QR code on the page is exactly the one of this URI …
    uri = totp.provisioning_uri(secret, expected)
    assert parse_key_uri(uri)["issuer"] == "Smith Jones & Co"
    assert totp.qr_svg(uri) in dialog
    # … and the words around it use the same names.
    assert "lists it as <strong>Smith Jones &amp; Co</strong> (zoe@smith.example)" in dialog

    client.post_form(
        "/profile/mfa/setup/confirm",
        {"first_code": clock.code(secret), "second_code": clock.code(secret, steps=1)},
        token_from="/profile",
    )
    client.post_form("/sign-out", token_from="/profile")
    clock.advance(seconds=60)
    sign_in(client, "zoe@smith.example")
    verify = client.get("/sign-in/verify").get_data(as_text=True)
    assert "the 6-digit code it shows for Smith Jones &amp; Co (zoe@smith.example)." in verify
    assert "Firmguard." not in verify
