"""The audit log page."""

from __future__ import annotations

from datetime import timedelta

from webapp.models import (
    AuditEvent,
    utcnow,
)

# --- Audit log -----------------------------------------------------------------


def test_audit_log_newest_first_filtered_and_paged(admin_client, session, firm):
    start = utcnow() - timedelta(hours=1)
    for number in range(55):
        session.add(
            AuditEvent(
                system_id=firm["system"].id,
                action="signin.mfa_failed",
                subject_id=firm["zoe"].id,
                details={"n": number},
                created_at=start + timedelta(seconds=number),
            )
        )
    session.add(
        AuditEvent(
            system_id=firm["outsider"].system_id,
            action="signin.mfa_failed",
            subject_id=firm["outsider"].id,
            details={"n": "outsider"},
            created_at=start,
        )
    )
    session.commit()
    first = admin_client.get("/admin/audit?action=signin.mfa_failed").get_data(as_text=True)
    assert first.index("N: 54") < first.index("N: 53")
    assert "N: 4<" not in first and "outsider" not in first
    older = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert "N: 4<" in second and "N: 0<" in second and "N: 54" not in second
    by_user = admin_client.get("/admin/audit?user=jose@harbour.example").get_data(as_text=True)
    assert "No events match" in by_user
    unknown = admin_client.get("/admin/audit?user=nobody@example.com").get_data(as_text=True)
    assert "No events match" in unknown
