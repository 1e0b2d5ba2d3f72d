"""The rules a new password meets (NIST SP 800-63B): length, any characters,
no composition rules, no common or breached password, not the email or firm."""

from __future__ import annotations

import pytest

from webapp.passwords import rules


def check(password: str) -> list[str]:
    return rules.problems(password, email="zoe.smith@harbour.example", firm_name="Harbour & Quay")


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "tui  kererū  kōwhai",  # spaces, macrons
        "🙂🌙 moon river 🌊 tea",  # emoji
        "all lowercase no digits at all",  # no composition rules
        "Ж" * 3 + "ёлка палки дом",  # any script
        "a long sentence " * 8,  # 128 characters
        ("the quick brown fox jumps over a lazy dog " * 7)[:256],  # the most allowed
    ],
)
def test_long_passwords_of_any_characters_are_accepted(password):
    assert check(password) == []


def test_length_limits_count_characters_not_bytes():
    assert check("🙂" * 11) == [rules.TOO_SHORT]
    assert check("🙂🌙🌊🍵 moon tea!") == []
    assert check("q7 x" * 64 + "z") == [rules.TOO_LONG]


@pytest.mark.parametrize(
    "password",
    ["password1234", "Password1234!", "qwertyuiop123", "iloveyou2024!!", "BASEBALL1234"],
)
def test_common_and_breached_passwords_are_refused(password):
    assert check(password) == [rules.COMMON]


def test_the_list_is_the_packaged_one():
    assert len(rules.common_passwords()) == 30000
    assert "password" in rules.common_passwords()


def test_a_few_characters_repeated_or_in_a_run_are_refused():
    assert check("aaaaaaaaaaaaaaaa") == [rules.REPETITIVE]
    assert check("abababababababab") == [rules.REPETITIVE]
    assert check("abcdefghijklmnop") == [rules.REPETITIVE]
    assert check("987654321098") == [rules.REPETITIVE]


def test_the_email_name_and_firm_name_are_refused_in_any_case_and_spacing():
    assert check("my Zoe.Smith passphrase") == [rules.HAS_EMAIL]
    assert check("harbour &quay forever ok") == [rules.HAS_FIRM]
    # Short names would refuse too much by accident.
    assert rules.problems("joe is a fine name here", email="jo@x.example", firm_name="AB") == []
