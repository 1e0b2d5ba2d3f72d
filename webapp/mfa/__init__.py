"""My Profile and the user's own multi-factor authentication."""

from flask import Blueprint

bp = Blueprint("mfa", __name__)

from webapp.mfa import enforcement, routes  # noqa: E402,F401  (registers the routes)

# Every route of the app, not just this blueprint's: a user who must enrol
# reaches nothing else.
bp.before_app_request(enforcement.enforce_enrolment)
