"""The rules a new password meets (NIST SP 800-63B, section 3.1.1.2).

At least 12 characters and up to 256, any characters (spaces, emoji and every
script count, one character per code point after NFC normalisation), no
composition rules. Refused when it is a common or breached password, when it
is one with only digits or symbols around it ("password1234!"), when it is
a few characters repeated or a run of consecutive ones ("1234567890123"), or when it contains the email's local part
or the firm's name. The list is zxcvbn's "passwords" frequency list (README,
"Why these libraries"), read once, offline.
"""

from __future__ import annotations

import functools
import unicodedata

MIN_LENGTH = 12
MAX_LENGTH = 256
# Shorter local parts ("jo") or firm names ("AB") would refuse too much by accident.
MIN_CONTEXT_LENGTH = 3

TOO_SHORT = f"Use at least {MIN_LENGTH} characters. A few words with spaces between them are easy to remember."
TOO_LONG = f"Use at most {MAX_LENGTH} characters."
COMMON = (
    "This password is on a list of common or breached passwords, so it would be "
    "guessed quickly. Choose another."
)
REPETITIVE = (
    "This password repeats a few characters or runs through them in order "
    "(as 1234567890 does). Choose one that is harder to guess."
)
HAS_EMAIL = "The password must not contain your email address's name."
HAS_FIRM = "The password must not contain your firm's name."
MISMATCH = "The two passwords do not match."


@functools.cache
def common_passwords() -> frozenset[str]:
    """zxcvbn's list of the 30,000 most common passwords in breached sets."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def normalized(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def _folded(text: str) -> str:
    """For comparisons: case-folded, spaces dropped ("Harbour Quay" ~ "harbourquay")."""
    return "".join(normalized(text).casefold().split())


def _core(folded: str) -> str:
    """The password without the digits and symbols around it ("password1234!" → "password")."""
    return folded.strip("0123456789!@#$%^&*()-_=+.,?;:'\"~`[]{}<>/\\|")


def _is_run(folded: str) -> bool:
    """Consecutive characters, up or down, digits wrapping ("8901234…", "zyxw…")."""
    steps = {ord(after) - ord(before) for before, after in zip(folded, folded[1:], strict=False)}
    return steps <= {1, -9} or steps <= {-1, 9}


def problems(password: str, *, email: str = "", firm_name: str = "") -> list[str]:
    """What is wrong with `password` as a new password (empty: it may be used)."""
    password = normalized(password)
    if len(password) < MIN_LENGTH:
        return [TOO_SHORT]
    if len(password) > MAX_LENGTH:
        return [TOO_LONG]
    found = []
    folded = _folded(password)
    listed = common_passwords()
    if folded in listed or _core(folded) in listed or password.casefold() in listed:
        found.append(COMMON)
    elif len(set(folded)) < 4 or _is_run(folded):
        found.append(REPETITIVE)
    local_part = _folded(email.partition("@")[0])
    if len(local_part) >= MIN_CONTEXT_LENGTH and local_part in folded:
        found.append(HAS_EMAIL)
    firm = _folded(firm_name)
    if len(firm) >= MIN_CONTEXT_LENGTH and firm in folded:
        found.append(HAS_FIRM)
    return found
