"""SCIM 2.0 provisioning (RFC 7643/7644): tokens, the /scim/v2 API, its schema."""
