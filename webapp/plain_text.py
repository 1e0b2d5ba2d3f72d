"""Text that must stay on one line: names that reach email headers (a system's
name is in its emails' subjects) and the headers themselves."""

from __future__ import annotations

import unicodedata

# Besides the C0/C1 controls (CR and LF among them), the Unicode line and
# paragraph separators: some mail clients and log viewers break lines at them.
LINE_BREAKING = {"\u2028", "\u2029"}


def has_control_characters(value: str) -> bool:
    """Whether `value` holds a control character (CR, LF, tab, NUL, ESC …)."""
    return any(unicodedata.category(ch) == "Cc" or ch in LINE_BREAKING for ch in value)
