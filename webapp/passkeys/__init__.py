"""Passkeys and security keys (WebAuthn): a second method beside the app."""
