"""A new passkey's default name: the authenticator's, from its AAGUID where
it is a well-known one, else the browser and system it was made on."""

from __future__ import annotations

import re

# Passkey providers that say who they are (others send an AAGUID of zeros).
KNOWN_AAGUIDS = {
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
}

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Windows", "Windows"),
    ("Linux", "Linux"),
)

MAX_NAME = 100


def default_name(aaguid: str, user_agent: str, taken: set[str]) -> str:
    """The authenticator's name, else "Chrome on Windows" and the like, else
    "Passkey"; numbered when the user already has one of that name."""
    name = KNOWN_AAGUIDS.get(aaguid.lower())
    if name is None:
        browser = next((label for key, label in BROWSERS if key in user_agent), None)
        system = next((label for key, label in SYSTEMS if key in user_agent), None)
        name = " on ".join(part for part in (browser, system) if part) or "Passkey"
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} ({number})", number + 1
    return candidate


def clean(name: str) -> str:
    """A name as typed, with runs of white space made one space."""
    return re.sub(r"\s+", " ", name).strip()[:MAX_NAME]
