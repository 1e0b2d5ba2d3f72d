"""Browser sessions: one row per signed-in browser ("Where you're signed in")."""
