"""PostgreSQL restarted under a running app: it recovers without a restart."""

from __future__ import annotations

from alembic import command as alembic_command

from tests.conftest import CsrfClient, Factory, sign_in
from webapp import create_app
from webapp.cli import alembic_config


def test_app_recovers_after_postgres_restart(private_postgres, tmp_path):
    app = create_app(
        "testing", {"DATABASE_URL": private_postgres.url, "MAIL_FILE_DIR": str(tmp_path / "mail")}
    )
    with app.app_context():
        alembic_command.upgrade(alembic_config(), "heads")
    app.test_client_class = CsrfClient
    factory = Factory(app)
    factory.user(email="ann@example.com", name="Ann")
    client = app.test_client()
    sign_in(client, "ann@example.com")
    assert client.get("/profile").status_code == 200

    private_postgres.stop()
    down = client.get("/profile")
    assert down.status_code == 500
    assert "Something went wrong on our side" in down.get_data(as_text=True)

    private_postgres.start()
    # The pooled connections died with the server; pre-ping replaces them.
    assert client.get("/profile").status_code == 200
    assert "Ann" in client.get("/profile").get_data(as_text=True)
    app.extensions["firmguard_db"].dispose()
