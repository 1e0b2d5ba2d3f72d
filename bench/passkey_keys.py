"""The benchmark's passkeys: a P-256 key, a credential id and a WebAuthn user
handle derived from a user's email, so the seeding (Firmguard's venv) stores
the public key and the driver (bench/.venv) signs with the private one without
passing keys between processes. Benchmark accounts only: anyone who knows the
email can derive the key.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# WebAuthn authenticator-data flags: user present, user verified.
PRESENT_AND_VERIFIED = 0x05
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _digest(label: str, email: str) -> bytes:
    return hashlib.sha256(f"firmguard-bench-{label}:{email}".encode()).digest()


def credential_of(email: str) -> tuple[bytes, bytes, ec.EllipticCurvePrivateKey]:
    """(credential id, user handle, private key) of `email`'s benchmark passkey."""
    scalar = int.from_bytes(_digest("key", email), "big") % (P256_ORDER - 1) + 1
    key = ec.derive_private_key(scalar, ec.SECP256R1())
    return _digest("id", email)[:16], _digest("handle", email), key


def cose_public_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as a COSE_Key (ES256), CBOR-encoded: cbor2 comes with py_webauthn."""
    import cbor2  # only the seeding (Firmguard's venv) needs it

    numbers = key.public_key().public_numbers()
    return cbor2.dumps(
        {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(email: str, options: dict, origin: str) -> str:
    """What navigator.credentials.get() answers for `options` (JSON, as
    static/js/passkeys.js sends it): signed by `email`'s key, with user
    verification, and no signature counter (as synced passkeys keep none)."""
    credential_id, user_handle, key = credential_of(email)
    auth_data = hashlib.sha256(options["rpId"].encode()).digest() + bytes([PRESENT_AND_VERIFIED])
    auth_data += (0).to_bytes(4, "big")
    client_data = json.dumps(
        {
            "type": "webauthn.get",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": False,
        }
    ).encode()
    signature = key.sign(
        auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
    )
    return json.dumps(
        {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle),
            },
        }
    )
