"""Hostile input for the property-based bad-input tests, and the settings they share."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Markup that must only ever come back escaped.
MARKUP = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><script>alert(2)</script>',
    "'><svg onload=alert(3)>",
]

FRAGMENTS = [
    *MARKUP,
    "' OR '1'='1' --",
    "ann@example.com'; DROP TABLE users; --",
    "1; DELETE FROM users",
    "%_\\%",
    "\x00",
    "a" * 5000,
    "=cmd|' /C calc'!A0",
    "ａｎｎ@ｅｘａｍｐｌｅ.ｃｏｍ",
    "１２３４５６",
    "²",
    "٣",
    "-1",
    "99999999999999999999999",
    "1e9",
    "0x10",
    " ",
    "\u202e\u200b\ufeff",
    "\ud7ff\U0010ffff",
]

HOSTILE = st.one_of(st.text(max_size=300), st.sampled_from(FRAGMENTS))

PROFILE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# For suites run once per form or page: many cases, so fewer examples each.
PER_CASE = settings(PROFILE, max_examples=15)
# One test drawing the form or page as well as the input.
MANY_CASES = settings(PROFILE, max_examples=40)
