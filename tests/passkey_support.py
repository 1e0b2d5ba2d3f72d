"""A small software authenticator for the server-side passkey tests: it makes
the same JSON a browser's navigator.credentials returns (ES256 keys from the
`cryptography` package, "none" attestation), so py_webauthn verifies it as it
verifies Chromium's. It can also misbehave: send a counter that went
backwards, or sign a challenge from somewhere else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:5000"
RP_ID = "localhost"
# WebAuthn's authenticator-data flags.
USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )


@dataclass
class SoftAuthenticator:
    """Holds credentials like a platform authenticator; counts signatures
    (`counter=False`: always 0, as passkey providers that sync do)."""

    origin: str = ORIGIN
    rp_id: str = RP_ID
    counter: bool = True
    user_verification: bool = True
    aaguid: bytes = bytes(16)
    credentials: list[Credential] = field(default_factory=list)

    def _auth_data(self, flags: int, count: int, attested: bytes = b"") -> bytes:
        if self.user_verification:
            flags |= USER_VERIFIED
        return (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([flags | USER_PRESENT])
            + count.to_bytes(4, "big")
            + attested
        )

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict, again: Credential | None = None) -> str:
        """navigator.credentials.create(): a new credential for `options` (JSON),
        or `again` one it already holds (what a browser's excludeCredentials prevents)."""
        credential = again or Credential(
            credential_id=secrets.token_bytes(16),
            key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=unb64url(options["user"]["id"]),
        )
        if again is None:
            self.credentials.append(credential)
        attested = (
            self.aaguid
            + len(credential.credential_id).to_bytes(2, "big")
            + credential.credential_id
            + credential.cose_public_key()
        )
        auth_data = self._auth_data(ATTESTED, 0, attested)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(credential.credential_id),
                "rawId": b64url(credential.credential_id),
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(
                        self._client_data("webauthn.create", options["challenge"])
                    ),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal"],
                },
            }
        )

    def get(
        self, options: dict, credential: Credential | None = None, sign_count: int | None = None
    ) -> str:
        """navigator.credentials.get(): an assertion over `options`' challenge by
        `credential` (default the newest), its counter moved on unless given."""
        credential = credential or self.credentials[-1]
        if sign_count is None:
            if self.counter:
                credential.sign_count += 1
            sign_count = credential.sign_count
        auth_data = self._auth_data(0, sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = credential.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": b64url(credential.credential_id),
                "rawId": b64url(credential.credential_id),
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(credential.user_handle),
                },
            }
        )


def options(client, path: str, token_from: str) -> dict:
    """POST for a ceremony's options, as static/js/passkeys.js does."""
    token = client.csrf_token(token_from)
    response = client.post(path, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def confirm_add(client, proof: dict | None = None):
    """ "Add a passkey" opens after "Confirm it's you" (by default the password)."""
    from tests.conftest import PASSWORD

    data = proof if proof is not None else {"current_password": PASSWORD}
    return client.post_form("/profile/passkeys/new", data, token_from="/profile")


def add_passkey(client, authenticator: SoftAuthenticator, proof: dict | None | bool = None, **kw):
    """My Profile's "Add a passkey", with the software authenticator (the
    proof first, unless `proof` is False: one still fresh, or none asked)."""
    if proof is not False:
        confirm_add(client, proof)
    created = authenticator.create(options(client, "/profile/passkeys/options", "/profile"))
    return client.post_form(
        "/profile/passkeys", {"credential": created}, token_from="/profile", **kw
    )


def use_passkey(client, authenticator: SoftAuthenticator, sign_count: int | None = None):
    """The code step's "Use a passkey" (the password step done)."""
    challenge = options(client, "/sign-in/passkey/options", "/sign-in/verify")
    return post_assertion(client, authenticator.get(challenge, sign_count=sign_count))


def post_assertion(client, assertion: str, **kw):
    return client.post_form(
        "/sign-in/passkey", {"credential": assertion}, token_from="/sign-in/verify", **kw
    )


def sign_in_with_passkey(client, authenticator: SoftAuthenticator, next_target: str = "", **kw):
    """The sign-in page's "Sign in with a passkey": no email, no password."""
    challenge = options(client, "/sign-in/with-passkey/options", "/sign-in")
    path = "/sign-in/with-passkey" + (f"?next={next_target}" if next_target else "")
    return client.post_form(
        path, {"credential": authenticator.get(challenge, **kw)}, token_from="/sign-in"
    )
