"""The audit log's CSV (streamed, formula-safe, only the admin's firm) and the
retention the Security settings page states."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from webapp.models import AuditEvent, utcnow


def add_event(session, system_id, action, *, actor=None, subject=None, age=timedelta(0), **details):
    event = AuditEvent(
        system_id=system_id,
        action=action,
        actor_id=actor.id if actor else None,
        subject_id=subject.id if subject else None,
        details=details,
        created_at=utcnow() - age,
    )
    session.add(event)
    session.commit()
    return event


def download(client, query: str = "") -> list[list[str]]:
    with client.get(f"/admin/audit.csv{query}") as response:
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert response.headers["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
        assert response.is_streamed
        return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_the_audit_csv_is_the_firms_log_oldest_first_with_formulas_neutralised(
    admin_client, session, firm
):
    system_id = firm["system"].id
    session.get(type(firm["zoe"]), firm["zoe"].id).display_name = '=HYPERLINK("http://x")'
    session.commit()
    add_event(
        session,
        system_id,
        "mfa.reset_by_admin",
        actor=firm["ann"],
        subject=firm["zoe"],
        age=timedelta(days=2),
        acknowledgement="+billing",
    )
    add_event(
        session,
        system_id,
        "signin.succeeded",
        actor=firm["jose"],
        subject=firm["jose"],
        age=timedelta(days=1),
    )
    add_event(
        session,
        firm["outsider"].system_id,
        "signin.succeeded",
        actor=firm["outsider"],
        subject=firm["outsider"],
        note="other firm",
    )

    header, *rows = download(admin_client)

    assert header == ["Time (UTC)", "Action", "By", "By email", "User", "User email", "Details"]
    # Signing in as Ann and her "Confirm it's you" were audited too: the newest.
    assert [row[1] for row in rows] == [
        "mfa.reset_by_admin",
        "signin.succeeded",
        "signin.succeeded",
        "auth.step_up",
    ]
    reset = rows[0]
    assert reset[2:6] == [
        "Ann Admin",
        "ann@harbour.example",
        '\'=HYPERLINK("http://x")',
        "zoe@harbour.example",
    ]
    assert json.loads(reset[6]) == {"acknowledgement": "+billing"}
    assert len(reset[0]) == len("2026-11-30 09:00:00")
    body = "\n".join(",".join(row) for row in rows)
    assert "Outsider" not in body and "other firm" not in body


def test_the_audit_csv_follows_the_pages_filters(admin_client, session, firm):
    system_id = firm["system"].id
    add_event(session, system_id, "mfa.enabled", actor=firm["zoe"], subject=firm["zoe"])
    add_event(session, system_id, "mfa.enabled", actor=firm["jose"], subject=firm["jose"])

    _header, *rows = download(admin_client, "?action=mfa.enabled&user=zoe@harbour.example")
    assert [(row[1], row[5]) for row in rows] == [("mfa.enabled", "zoe@harbour.example")]
    # Another firm's person is nobody here: an empty file, not their events.
    _header, *rows = download(admin_client, "?user=zoe@other.example")
    assert rows == []


def test_the_audit_page_offers_the_download_with_its_filters(admin_client):
    body = admin_client.get("/admin/audit?action=mfa.enabled").get_data(as_text=True)
    assert 'href="/admin/audit.csv?action=mfa.enabled" download>Download CSV</a>' in body
    assert "Entries are kept for 7 years (2,555 days), then deleted." in body


def test_security_settings_state_the_audit_retention(admin_client):
    body = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Audit log retention" in body
    assert "Audit log entries are kept for 7 years (2,555 days), then deleted." in body
    assert 'href="/admin/audit.csv" download>download the audit log as CSV</a>' in body


@pytest.mark.parametrize("app_overrides", [{"AUDIT_RETENTION_DAYS": 90}])
def test_the_stated_retention_is_the_configured_one(admin_client):
    body = admin_client.get("/admin/security").get_data(as_text=True)
    assert "Audit log entries are kept for 90 days, then deleted." in body
