"""TOTP arithmetic (RFC 6238: SHA1, 6 digits, 30-second steps) and the
provisioning URI / QR code an authenticator app reads.

Everything takes the time explicitly, so tests pass the clock.
"""

from __future__ import annotations

import hmac
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


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The `otpauth://totp/` URI of Google's Key Uri Format.

    Label and issuer are percent-encoded in full (a ':' or '&' in a firm's name
    must not split the label or the query); '@' stays readable in the account.
    """
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD,
        },
        quote_via=quote,
        safe="",
    )
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG markup (no XML declaration, no styles)."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2, omitsize=True)


def grouped(secret: str, size: int = 4) -> str:
    """The secret in groups of four, as authenticator apps accept it typed."""
    return " ".join(secret[i : i + size] for i in range(0, len(secret), size))
