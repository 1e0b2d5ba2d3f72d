"""My Profile routes."""

from __future__ import annotations

from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.htmx import render_page
from webapp.mfa import bp
from webapp.models import System


@bp.route("/profile")
@login_required
def profile():
    system = db.session.get(System, current_user.system_id)
    return render_page("mfa/profile.html", block="content", user=current_user, system=system)
