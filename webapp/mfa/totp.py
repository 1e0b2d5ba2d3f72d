"""TOTP arithmetic (RFC 6238: SHA1, 6 digits, 30-second steps) and the
provisioning URI / QR code an authenticator app reads.

Everything takes the time explicitly, so tests pass the clock.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import pyotp
import segno

DIGITS = 6
PERIOD = 30
# How many steps either side of "now" a code may be from (clock drift).
DRIFT_STEPS = 1


def new_secret() -> str:
    """A 160-bit base32 secret (32 characters)."""
    return pyotp.random_base32(32)


def step_at(now: datetime) -> int:
    """The RFC 6238 time-step counter at `now`."""
    return int(now.timestamp()) // PERIOD


def code_at_step(secret: str, step: int) -> str:
    """The 6-digit code of `secret` for time-step `step`."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).at(step * PERIOD)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time-step within ±1 of `now` whose code is `code`, else None.

    Every candidate is compared in constant time, and all of them always are,
    so the response time says nothing about which step matched.
    """
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at_step(secret, step), code):
            found = step
    return found


# The Key Uri Format forbids a colon inside the issuer or the account name (it
# separates the two in the label); control characters have no place in either.
_NOT_IN_LABEL = re.compile(r"[:\x00-\x1f\x7f]+")


def _label_part(text: str) -> str:
    return " ".join(_NOT_IN_LABEL.sub(" ", text).split())


@dataclass(frozen=True)
class AppAccount:
    """How an authenticator app names the account: the issuer (the firm) and the
    account name (the user's email), exactly as the QR code carries them."""

    issuer: str
    name: str

    @classmethod
    def of(cls, firm_name: str, email: str) -> AppAccount:
        """The firm's name and the email, with colons (and control characters)
        replaced by spaces, so that any name makes a valid URI."""
        return cls(_label_part(firm_name) or "Firmguard", _label_part(email))


def provisioning_uri(secret: str, account: AppAccount) -> str:
    """The `otpauth://totp/` URI of Google's Key Uri Format.

    The label is "issuer:account" and the `issuer` parameter equals its prefix.
    Both are percent-encoded as UTF-8 in full (an '&', '#', '?' or '/' in a
    firm's name must not end the label or split the query); '@' stays
    readable in the account name.
    """
    label = f"{quote(account.issuer, safe='')}:{quote(account.name, safe='@')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": account.issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        },
        quote_via=quote,
        safe="",
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG (no XML declaration, no styles; the
    standard 4-module quiet zone, which phone scanners need)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=4, omitsize=True)


def grouped(secret: str, size: int = 4) -> str:
    """The secret in groups of four, as authenticator apps accept it typed."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))
