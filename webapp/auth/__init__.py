"""Sign-in and sign-out (the blueprint: `webapp.auth.routes.bp`)."""
