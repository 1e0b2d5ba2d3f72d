"""The firm's OpenID provider, through Authlib's Flask client.

One `FlaskOAuth2App` per firm and process, kept while the firm's settings are
unchanged and for at most `DISCOVERY_TTL`: it holds the provider's discovery
document and its JWKS (fetched from `jwks_uri` on first use, fetched again when
an ID token names a key id it does not hold, as after a key rotation). Authlib
builds the authorization URL (state, nonce, PKCE S256), exchanges the code,
checks the ID token's signature against the JWKS and its claims; what it leaves
to the caller (the audience: Authlib only checks `azp`) is passed in here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from authlib.integrations.flask_client import FlaskIntegration, FlaskOAuth2App, OAuthError
from flask import current_app
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

from webapp.crypto import decrypt_secret
from webapp.models import SsoConfig

SCOPE = "openid email profile"
# Discovery is read again after this long (a provider may move its endpoints).
DISCOVERY_TTL = 3600.0
# A provider that does not answer fails the request quickly instead of holding a worker.
HTTP_TIMEOUT = 5.0
# Clock skew allowed between us and the provider when checking exp and iat.
LEEWAY_SECONDS = 60


class ProviderError(Exception):
    """The provider could not be used; `reason` is an `sso.flow.Reason` value."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclass
class _Entry:
    key: tuple
    created: float
    client: FlaskOAuth2App


def client_for(config: SsoConfig) -> FlaskOAuth2App:
    """This firm's client (cached per process; a changed setting makes a new one)."""
    cache: dict[int, _Entry] = current_app.extensions.setdefault("firmguard_sso_clients", {})
    key = (config.issuer, config.client_id, config.client_secret_encrypted)
    entry = cache.get(config.system_id)
    if entry is None or entry.key != key or time.monotonic() - entry.created > DISCOVERY_TTL:
        client = FlaskOAuth2App(
            FlaskIntegration("firmguard_sso"),
            name=f"firm-{config.system_id}",
            client_id=config.client_id,
            client_secret=decrypt_secret(config.client_secret_encrypted),
            server_metadata_url=discovery_url(config.issuer),
            client_kwargs={
                "scope": SCOPE,
                "code_challenge_method": "S256",
                "default_timeout": HTTP_TIMEOUT,
            },
        )
        entry = cache[config.system_id] = _Entry(key, time.monotonic(), client)
    return entry.client


def metadata(client: FlaskOAuth2App, issuer: str) -> dict:
    """The provider's discovery document, which must name `issuer` exactly."""
    try:
        document = client.load_server_metadata()
    except (requests.RequestException, ValueError) as error:
        raise ProviderError("provider_unreachable", type(error).__name__) from error
    if document.get("issuer") != issuer:
        raise ProviderError("wrong_issuer", f"the provider names itself {document.get('issuer')!r}")
    return document


def authorization(client: FlaskOAuth2App, issuer: str, redirect_uri: str, **params) -> dict:
    """A new authorization request: {"url", "state", "nonce", "code_verifier"}."""
    metadata(client, issuer)
    return client.create_authorization_url(redirect_uri, **params)


def exchange_code(
    client: FlaskOAuth2App, issuer: str, redirect_uri: str, code: str, code_verifier: str
) -> dict:
    """The token response for `code` (the PKCE verifier proves we asked for it)."""
    metadata(client, issuer)
    try:
        return client.fetch_access_token(
            redirect_uri=redirect_uri, code=code, code_verifier=code_verifier
        )
    except OAuthError as error:
        raise ProviderError("provider_refused", error.error or "") from error
    except (requests.RequestException, ValueError) as error:
        raise ProviderError("provider_unreachable", type(error).__name__) from error


def id_token_claims(client: FlaskOAuth2App, issuer: str, token: dict, nonce: str) -> dict:
    """The ID token's claims, once its signature (JWKS), issuer, audience, expiry
    and nonce are checked; else ProviderError with what failed."""
    if "id_token" not in token:
        raise ProviderError("invalid_token", "no ID token")
    audience = client.client_id
    options = {
        "iss": {"essential": True, "value": issuer},
        # One audience, ours (OpenID Connect Core 3.1.3.7, items 3 and 4).
        "aud": {"essential": True, "validate": lambda _c, aud: aud in (audience, [audience])},
    }
    try:
        claims = client.parse_id_token(
            token, nonce=nonce, claims_options=options, leeway=LEEWAY_SECONDS
        )
    except ExpiredTokenError as error:
        raise ProviderError("token_expired") from error
    except (InvalidClaimError, MissingClaimError) as error:
        claim = getattr(error, "claim", "")
        reasons = {"aud": "wrong_audience", "iss": "wrong_issuer"}
        raise ProviderError(reasons.get(claim, "invalid_token"), f"claim {claim}") from error
    except JoseError as error:
        raise ProviderError("invalid_token", type(error).__name__) from error
    except (requests.RequestException, ValueError) as error:
        raise ProviderError("provider_unreachable", type(error).__name__) from error
    return dict(claims)
