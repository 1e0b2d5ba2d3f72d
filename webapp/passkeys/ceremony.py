"""The WebAuthn ceremonies through py_webauthn: options for the browser, and
the checks of what it sends back. The relying party is this site: its id is
`WEBAUTHN_RP_ID` (default the host of `BASE_URL`), its origin `BASE_URL`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import options_to_json_dict, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

# What a malformed or forged response raises inside py_webauthn (bad base64 is a ValueError).
REFUSED = (WebAuthnException, ValueError, TypeError, KeyError)
# How long the browser waits for the person (the challenge lives 5 minutes).
TIMEOUT_MS = 120_000


class CeremonyError(Exception):
    """The browser's response does not verify (forged, replayed, wrong site…)."""


def origin() -> str:
    """The one origin ceremonies may come from: BASE_URL's scheme, host and port."""
    parts = urlsplit(current_app.config["BASE_URL"])
    return f"{parts.scheme}://{parts.netloc}"


def rp_id() -> str:
    return current_app.config.get("WEBAUTHN_RP_ID") or urlsplit(origin()).hostname


def registration_options(
    *, challenge: bytes, user_handle: bytes, email: str, name: str, rp_name: str, exclude
) -> dict:
    """Options for navigator.credentials.create(), as JSON (base64url bytes).

    A discoverable credential where the authenticator can keep one (so it can
    sign in without a password later), user verification preferred, no
    attestation: Firmguard trusts no vendor list, so it asks for none.
    """
    options = generate_registration_options(
        rp_id=rp_id(),
        rp_name=rp_name,
        user_id=user_handle,
        user_name=email,
        user_display_name=name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in exclude],
    )
    return options_to_json_dict(options)


def authentication_options(*, challenge: bytes, allow, user_verification: str) -> dict:
    """Options for navigator.credentials.get(): the user's own credentials
    (second step), or none for a discoverable credential (passwordless)."""
    options = generate_authentication_options(
        rp_id=rp_id(),
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allow],
        user_verification=UserVerificationRequirement(user_verification),
    )
    return options_to_json_dict(options)


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    user_verified: bool


def verify_registration(response: str, challenge: bytes) -> NewCredential:
    """Check what navigator.credentials.create() returned; raise CeremonyError."""
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
        )
    except REFUSED as error:
        raise CeremonyError(str(error)) from error
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        user_verified=verified.user_verified,
    )


@dataclass(frozen=True)
class Claim:
    """Who an assertion says it is from (unverified): its credential id, and
    the WebAuthn user.id the authenticator keeps with it (if it sent one)."""

    credential_id: bytes
    user_handle: bytes | None


def asserted_claim(response: str) -> Claim | None:
    """What an assertion claims, if it parses."""
    try:
        parsed = parse_authentication_credential_json(response)
    except REFUSED:
        return None
    return Claim(parsed.raw_id, parsed.response.user_handle)


@dataclass(frozen=True)
class Assertion:
    sign_count: int
    user_verified: bool


def verify_assertion(
    response: str, challenge: bytes, public_key: bytes, *, require_user_verification: bool
) -> Assertion:
    """Check an assertion's signature, challenge, origin and relying party.

    The sign counter is compared by the caller (`services`), which audits a
    counter that went backwards; py_webauthn is given 0 so it does not refuse
    that case anonymously.
    """
    try:
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp_id(),
            expected_origin=origin(),
            credential_public_key=public_key,
            credential_current_sign_count=0,
            require_user_verification=require_user_verification,
        )
    except REFUSED as error:
        raise CeremonyError(str(error)) from error
    return Assertion(sign_count=verified.new_sign_count, user_verified=verified.user_verified)
