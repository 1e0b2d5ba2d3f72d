"""Admin → Security settings → "Send now" runs the heads-up rule at once."""

from __future__ import annotations

from tests.conftest import sign_in


def test_send_now_emails_this_firms_admins_the_digest(client, factory, mailbox):
    firm = factory.system("Harbour Law")
    factory.user(firm, email="ann@harbour.example", name="Ann Admin", admin=True)
    factory.user(firm, email="zoe@harbour.example", name="Zoë Brown")
    other = factory.system("Other Firm")
    factory.user(other, email="boss@other.example", name="Other Boss", admin=True)
    sign_in(client, "ann@harbour.example")

    page = client.get("/admin/security").get_data(as_text=True)
    assert ">Send now</button>" in page
    response = client.post_form("/admin/security/heads-up/send-now", token_from="/admin/security")
    assert response.headers["Location"] == "/admin/security"
    assert "The heads-up email is on its way" in client.get("/admin/security").get_data(
        as_text=True
    )

    digests = [m for m in mailbox() if "Zoë Brown" in m.get_body(("plain",)).get_content()]
    assert [m["To"] for m in digests] == ["ann@harbour.example"]


def test_send_now_without_csrf_token_sends_nothing(client, factory, mailbox):
    firm = factory.system("Harbour Law")
    factory.user(firm, email="ann@harbour.example", admin=True)
    factory.user(firm, email="zoe@harbour.example")
    sign_in(client, "ann@harbour.example")
    assert client.post("/admin/security/heads-up/send-now").status_code == 400
    assert mailbox() == []
