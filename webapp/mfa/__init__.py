"""My Profile and the user's own multi-factor authentication."""

from flask import Blueprint

bp = Blueprint("mfa", __name__)

from webapp.mfa import routes  # noqa: E402,F401  (registers the routes)
