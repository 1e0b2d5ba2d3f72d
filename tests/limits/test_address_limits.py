"""Per-address limits count failures only: an office behind one address signs
in as often as it likes (right passwords and codes never count), a spray of
many accounts from one address is slowed, and with `TRUSTED_PROXIES` the
address is the one the proxy saw."""

from __future__ import annotations

import pytest

from tests.conftest import sign_in
from tests.mfa_support import enable_mfa, submit_code
from tests.passkey_support import ORIGIN, SoftAuthenticator, use_passkey

OFFICE = {"environ_base": {"REMOTE_ADDR": "203.0.113.10"}}
ELSEWHERE = {"environ_base": {"REMOTE_ADDR": "198.51.100.20"}}
TOO_MANY = "Too many attempts"


def test_an_office_signs_in_from_one_address(app, factory, session, clock):
    """30 colleagues, one address, password and code: every one gets in, even
    with a few typos among them (failures, well under the address's budget)."""
    firm = factory.system(name="Harbour Law")
    people = [factory.user(firm, email=f"person{n}@harbour.example") for n in range(30)]
    for person in people:
        enable_mfa(app, session, person)
    answers = []
    for number, person in enumerate(people):
        colleague = app.test_client()
        if number % 5 == 0:  # a typo first
            assert sign_in(colleague, person.email, "typo", **OFFICE).status_code == 422
        answers.append(sign_in(colleague, person.email, **OFFICE).status_code)
        answers.append(submit_code(colleague, clock.code(), **OFFICE).status_code)
    assert answers == [302] * 60


def spray(client, count: int, start: int = 0, **kw) -> list[int]:
    """Wrong passwords for `count` different (unknown) accounts."""
    return [
        sign_in(client, f"guess{number}@example.com", "Winter2026!", **kw).status_code
        for number in range(start, start + count)
    ]


def test_a_spray_from_one_address_is_slowed(app, client, factory, clock):
    factory.user(email="ann@example.com")
    assert spray(client, 50, **OFFICE) == [422] * 50
    # The address is locked: nothing from it is looked at, a right password neither ...
    assert spray(client, 1, 50, **OFFICE) == [429]
    refused = sign_in(app.test_client(), "ann@example.com", **OFFICE)
    assert refused.status_code == 429
    assert TOO_MANY in refused.get_data(as_text=True)
    # ... while other addresses are not affected.
    assert sign_in(app.test_client(), "ann@example.com", **ELSEWHERE).status_code == 302
    # After a minute, one more failure locks it again, for 2 minutes, then 4.
    clock.advance(minutes=1, seconds=1)
    assert spray(client, 2, 60, **OFFICE) == [422, 429]
    clock.advance(minutes=1, seconds=1)
    assert spray(client, 1, 70, **OFFICE) == [429]
    clock.advance(minutes=1)
    assert spray(client, 2, 80, **OFFICE) == [422, 429]
    # An hour after its first failure the address starts afresh.
    clock.advance(hours=1)
    assert sign_in(app.test_client(), "ann@example.com", **OFFICE).status_code == 302


def test_wrong_codes_count_against_the_address_and_right_ones_never(
    app, factory, session, clock
):
    firm = factory.system(name="Harbour Law")
    people = [factory.user(firm, email=f"person{n}@harbour.example") for n in range(15)]
    for person in people:
        enable_mfa(app, session, person)
    statuses = []
    for person in people[:13]:  # 4 wrong codes each (the 5th would lock the person)
        guesser = app.test_client()
        assert sign_in(guesser, person.email, **OFFICE).status_code == 302
        statuses += [submit_code(guesser, "000000", **OFFICE).status_code for _ in range(4)]
    assert statuses == [422] * 50 + [429] * 2
    blocked = app.test_client()
    assert sign_in(blocked, people[13].email, **OFFICE).status_code == 302
    refused = submit_code(blocked, clock.code(), **OFFICE)
    assert refused.status_code == 429
    assert TOO_MANY in refused.get_data(as_text=True)
    # The password step is a budget of its own; another address has its own too.
    elsewhere = app.test_client()
    assert sign_in(elsewhere, people[14].email, **ELSEWHERE).status_code == 302
    assert submit_code(elsewhere, clock.code(), **ELSEWHERE).status_code == 302


@pytest.mark.parametrize("base_url", [ORIGIN])
def test_wrong_passkeys_count_as_wrong_codes(app, factory, session, clock, base_url):
    """48 wrong codes, then 2 wrong passkeys: the address's budget is spent."""
    firm = factory.system(name="Harbour Law")
    people = [factory.user(firm, email=f"person{n}@harbour.example") for n in range(14)]
    for person in people:
        enable_mfa(app, session, person)
    for person in people[:12]:
        guesser = app.test_client()
        guesser.environ_base["REMOTE_ADDR"] = OFFICE["environ_base"]["REMOTE_ADDR"]
        assert sign_in(guesser, person.email).status_code == 302
        assert {submit_code(guesser, "000000").status_code for _ in range(4)} == {422}
    stranger = SoftAuthenticator()
    stranger.create({"user": {"id": "AA"}, "challenge": "AA"})
    guesser.environ_base["REMOTE_ADDR"] = OFFICE["environ_base"]["REMOTE_ADDR"]
    assert sign_in(guesser, people[12].email).status_code == 302
    assert [use_passkey(guesser, stranger).status_code for _ in range(2)] == [303, 303]
    assert use_passkey(guesser, stranger).status_code == 429
    assert submit_code(guesser, clock.code()).status_code == 429


def proxied(address: str, forwarded_for: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": {"X-Forwarded-For": forwarded_for}}


@pytest.mark.parametrize("storage", ["database"])
@pytest.mark.parametrize("proxies", [0, 1])
def test_trusted_proxies_decides_whose_address_counts(app, client, factory, clock, proxies):
    """Behind one proxy (127.0.0.1 here), 50 failures from one client address
    (X-Forwarded-For) lock that client only — with TRUSTED_PROXIES=1. With 0
    the header is ignored (a client could write anything in it): the
    connection's address is the one that counts."""
    factory.user(email="ann@example.com")
    answers = spray(client, 51, **proxied("127.0.0.1", "192.0.2.66"))
    assert answers == [422] * 50 + [429]
    someone_else = sign_in(
        app.test_client(), "ann@example.com", **proxied("127.0.0.1", "192.0.2.77")
    )
    assert someone_else.status_code == (302 if proxies == 1 else 429)


def test_wrong_step_up_codes_count_against_the_address(app, factory, session, clock):
    """48 wrong codes at sign-in, then 2 wrong "Confirm it's you" codes: the
    address's budget is spent, for the step-up and the sign-in code alike."""
    firm = factory.system(name="Harbour Law")
    people = [factory.user(firm, email=f"person{n}@harbour.example") for n in range(13)]
    admin = factory.user(firm, email="aroha@harbour.example", admin=True)
    for person in [*people, admin]:
        enable_mfa(app, session, person)
    for person in people[:12]:
        guesser = app.test_client()
        assert sign_in(guesser, person.email, **OFFICE).status_code == 302
        assert {submit_code(guesser, "000000", **OFFICE).status_code for _ in range(4)} == {422}
    office_admin = app.test_client()
    assert sign_in(office_admin, admin.email, **OFFICE).status_code == 302
    assert submit_code(office_admin, clock.code(), **OFFICE).status_code == 302
    clock.advance(seconds=30)

    def step_up(code: str) -> int:
        data = {"country": "NZ", "accounting": "none", "code": code}
        return office_admin.post_form(
            "/admin/security/system", data, token_from="/admin/security", **OFFICE
        ).status_code

    assert [step_up("000000") for _ in range(2)] == [422, 422]
    assert step_up(clock.code()) == 429
    colleague = app.test_client()
    assert sign_in(colleague, people[12].email, **OFFICE).status_code == 302
    assert submit_code(colleague, clock.code(), **OFFICE).status_code == 429
