"""Admin: Users & permissions, security settings, audit log (the blueprint:
`webapp.admin.routes.bp`)."""
