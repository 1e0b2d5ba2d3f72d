"""MFA adoption over time: daily snapshots per firm, their backfill from the
audit log, and the Users & permissions page's adoption panel (README,
"Adoption panel")."""
