"""Helpers of the SCIM tests: a firm's token, requests with it, scim2-tester's run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from werkzeug.serving import make_server

from webapp.extensions import db
from webapp.models import utcnow
from webapp.scim import tokens

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def make_token(app, system, name: str = "Entra ID") -> str:
    """A new SCIM token of `system` (the secret the admin is shown once)."""
    with app.app_context():
        _, secret = tokens.create_token(db.session, system, name=name, admin=None, now=utcnow())
        db.session.commit()
    return secret


class Scim:
    """A SCIM client of one token over the Flask test client."""

    def __init__(self, client, secret: str) -> None:
        self.client, self.secret = client, secret

    def call(self, method: str, path: str, body: dict | None = None, **kw):
        headers = {"Authorization": f"Bearer {self.secret}"}
        if body is not None:
            headers["Content-Type"] = "application/scim+json"
            kw["data"] = json.dumps(body)
        return self.client.open(f"/scim/v2{path}", method=method, headers=headers, **kw)

    def create(self, email: str, display_name: str = "New Person", **extra):
        body = {
            "schemas": [USER_SCHEMA],
            "userName": email,
            "displayName": display_name,
            "active": True,
        }
        return self.call("POST", "/Users", {**body, **extra})

    def patch(self, user_id, *operations: dict):
        return self.call(
            "PATCH", f"/Users/{user_id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
        )

    def patch_group(self, group_id, *operations: dict):
        return self.call(
            "PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
        )

    def ids(self, query: str = "") -> list[str]:
        response = self.call("GET", f"/Users{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return [resource["id"] for resource in response.json["Resources"]]


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a free loopback port, its BASE_URL set to it; yields the URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(timeout=5)


class FreshEmails(Sequence):
    """Example userNames for scim2-tester: a new address at each pick.

    The tester fills a string with a random UUID unless the field has
    examples; Firmguard's userName is an email (which the published schema
    cannot say), so the client's User model is told its examples are these.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.picked = 0

    def __len__(self) -> int:
        return 2**40

    def __getitem__(self, index):
        with self.lock:
            self.picked += 1
            return f"conformance-{self.picked}-{index}@tester.example"
