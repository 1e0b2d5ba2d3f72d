"""Single sign-on (OpenID Connect) per firm: the provider's settings, the
trips to it, and what a sign-in through it counts for. The blueprint is in
`webapp.sso.routes`; the admin's settings routes in `webapp.admin.sso`."""
