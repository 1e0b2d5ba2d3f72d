"""Admin routes."""

from __future__ import annotations

from flask_login import current_user
from sqlmodel import select

from webapp.admin import bp
from webapp.auth.decorators import admin_required
from webapp.extensions import db
from webapp.htmx import render_page
from webapp.models import User


@bp.route("/users")
@admin_required
def users():
    rows = db.session.exec(
        select(User).where(User.system_id == current_user.system_id).order_by(User.display_name)
    ).all()
    return render_page("admin/users.html", block="content", users=rows)
