"""My Profile and the user's own multi-factor authentication (the blueprint:
`webapp.mfa.routes.bp`)."""
