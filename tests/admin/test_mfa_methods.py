"""Admins see each user's MFA methods: the users list's ✓ names them ("App",
"Passkey ×2"), its filters and CSV, the heads-up digest and the adoption
counts take a passkey user as having MFA, and the panel's chart splits the
methods (app / passkey / SSO), replayed from the audit log too."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from tests.admin.conftest import enable_mfa, listed_names
from tests.conftest import sign_in
from tests.heads_up_helpers import add_admin, add_users, outbox, tick
from tests.passkey_support import ORIGIN, SoftAuthenticator, add_passkey
from tests.test_adoption_snapshots import MORNING_IN_AUCKLAND, snapshots
from webapp.admin.user_edit import reset_mfa
from webapp.models import AuditEvent, System, User, utcnow


@pytest.fixture
def app_overrides() -> dict:
    return {"BASE_URL": ORIGIN}


@pytest.fixture
def methods(app, session, firm):
    """Zoë has the app; José two passkeys (no app); liam a passkey, then the app."""
    for name, count in (("jose", 2), ("liam", 1)):
        browser = app.test_client()
        sign_in(browser, firm[name].email)
        authenticator = SoftAuthenticator()
        for _ in range(count):
            assert add_passkey(browser, authenticator).status_code == 200
    enable_mfa(app, session, firm["zoe"].id)
    enable_mfa(app, session, firm["liam"].id)
    return firm


def mfa_cell(body: str, user_id: int) -> str:
    """The MFA column of a user's row, as text."""
    row = re.search(rf'<tr id="user-{user_id}"[^>]*>(.*?)</tr>', body, re.S).group(1)
    cell = re.findall(r"<td>(.*?)</td>", row, re.S)[4]
    return " ".join(re.sub(r"<[^>]+>", " ", cell).split())


def test_the_mfa_column_names_the_methods_and_filters_count_any(admin_client, methods):
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert mfa_cell(body, methods["zoe"].id) == "✓ App"
    assert mfa_cell(body, methods["jose"].id) == "✓ Passkey ×2"
    assert mfa_cell(body, methods["liam"].id) == "✓ App, Passkey"
    assert mfa_cell(body, methods["mere"].id).startswith("✗")
    assert "2 of 5 active users without MFA" in body
    on = admin_client.get("/admin/users?mfa=on", headers={"HX-Request": "true"})
    assert listed_names(on) == ["José Álvarez", "liam chen", "Zoë Brown"]
    off = admin_client.get("/admin/users?mfa=off", headers={"HX-Request": "true"})
    assert listed_names(off) == ["Ann Admin", "Mere Tūhoe"]

    with admin_client.get("/admin/users.csv?mfa=on") as response:
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert [(row[0], row[4], row[5]) for row in rows[1:]] == [
        ("José Álvarez", "yes", "Passkey ×2"),
        ("liam chen", "yes", "App, Passkey"),
        ("Zoë Brown", "yes", "App"),
    ]


def test_a_reset_removes_every_method_from_the_list(app, admin_client, session, methods):
    with app.test_request_context():
        reset_mfa(
            session,
            admin=session.get(User, methods["ann"].id),
            user=session.get(User, methods["liam"].id),
            now=utcnow(),
        )
        session.commit()
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert mfa_cell(body, methods["liam"].id).startswith("✗")
    liam = session.get(User, methods["liam"].id)
    assert (liam.mfa_app, liam.passkey_count) == (False, 0)
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset_by_admin")).one()
    assert event.details["had_app"] is True and event.details["had_passkeys"] == 1


def test_the_adoption_panel_splits_app_and_passkey(admin_client, methods):
    page = admin_client.get("/admin/users").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "line-app" in svg and "line-passkey" in svg
    assert "Passkey" in page[page.index("</svg>") :]  # the legend or table names it


def test_the_digest_and_the_daily_snapshot_count_a_passkey_user_as_having_mfa(
    app, session, factory
):
    system = factory.system("Kauri & Co", country="NZ", timezone="Pacific/Auckland")
    add_admin(session, system)
    add_users(session, system, ["Carla Clerk"])
    add_users(session, system, ["Pat Passkey"], mfa=True, mfa_app=False, passkey_count=2)
    add_users(session, system, ["Ada App"], mfa=True)
    tick(app, session, MORNING_IN_AUCKLAND)
    (digest, *_) = outbox(session, "heads_up")
    assert "2 of 4 active users of Kauri & Co do not have" in digest.body_text
    assert "Pat Passkey" not in digest.body_text
    [today] = snapshots(session, system).values()
    assert (today.with_mfa, today.with_app, today.with_passkey) == (2, 1, 1)


def test_passkeys_are_replayed_from_the_audit_log(app, session, factory):
    """Pia: a first passkey 6 days ago, a second 4 days ago, one removed 2 days
    ago. Ray: a passkey 8 days ago, reset by an admin 3 days ago."""
    firm = factory.system("Kauri & Co", timezone="Pacific/Auckland")
    created = MORNING_IN_AUCKLAND - timedelta(days=10)
    system = session.get(System, firm.id)
    system.created_at = created
    session.add(system)
    [pia] = add_users(
        session, firm, ["Pia"], mfa=True, mfa_app=False, passkey_count=1, created_at=created
    )
    [ray] = add_users(session, firm, ["Ray"], created_at=created)
    for user, action, days, details in (
        (pia, "mfa.enabled", 6, {"method": "passkey"}),
        (pia, "passkey.added", 6, {}),
        (pia, "passkey.added", 4, {}),
        (pia, "passkey.removed", 2, {}),
        (ray, "mfa.enabled", 8, {"method": "passkey"}),
        (ray, "passkey.added", 8, {}),
        (ray, "mfa.reset_by_admin", 3, {"had_app": False, "had_passkeys": 1}),
    ):
        session.add(
            AuditEvent(
                system_id=firm.id,
                subject_id=user.id,
                action=action,
                details=details,
                created_at=MORNING_IN_AUCKLAND - timedelta(days=days),
            )
        )
    session.commit()
    tick(app, session, MORNING_IN_AUCKLAND)
    rows = snapshots(session, firm)
    counts = {day.day: (row.with_mfa, row.with_app, row.with_passkey) for day, row in rows.items()}
    assert counts == {
        17: (0, 0, 0),
        18: (0, 0, 0),
        19: (1, 0, 1),  # Ray
        20: (1, 0, 1),
        21: (2, 0, 2),  # and Pia
        22: (2, 0, 2),
        23: (2, 0, 2),
        24: (1, 0, 1),  # Ray reset
        25: (1, 0, 1),
        26: (1, 0, 1),
        27: (1, 0, 1),
    }
    assert rows[date(2026, 11, 27)].source == "daily"
