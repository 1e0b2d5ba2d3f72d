"""The Firmguard web app: `create_app()` builds it."""

from __future__ import annotations

import os
import zoneinfo

from flask import Flask

from config import config_for, finalize, instance_folder, settings_from_environment


def create_app(config_name: str | None = None, overrides: dict | None = None) -> Flask:
    """Build the app for `config_name` (default: FIRMGUARD_ENV, else development).

    Settings come from the config class, then the environment (except for the
    test config), then `overrides`.
    """
    config_class = config_for(config_name or os.environ.get("FIRMGUARD_ENV", "development"))
    # Timezones from the tzdata package the app is installed with, never the
    # host's files: every machine agrees on every firm's clock.
    zoneinfo.reset_tzpath(to=())
    instance = instance_folder(os.environ)
    # Templates, static files and migrations are found from this package's
    # own location; only the instance folder depends on where it is run.
    app = Flask(__name__, instance_path=str(instance))
    app.config.from_object(config_class)
    if config_class.READS_ENVIRONMENT:
        app.config.update(settings_from_environment(os.environ))
    app.config.update(overrides or {})
    finalize(app.config, instance)

    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_template_filters(app)
    register_errorhandlers(app)
    register_request_hooks(app)
    register_commands(app)
    return app


def register_logging(app: Flask) -> None:
    """One log line per request, with its request id (`webapp.logs`)."""
    from webapp import logs

    if not app.testing:
        # Tests read records through pytest's own capture instead.
        logs.configure(app.config["LOG_FORMAT"])
    app.wsgi_app = logs.RequestLog(app.wsgi_app)
    app.teardown_request(logs.note_loggable_path)


def register_extensions(app: Flask) -> None:
    """Bind the extension objects of `webapp.extensions` to `app`."""
    from webapp import (
        delivery,  # noqa: F401  (its hook sends what a commit queued)
        security,
    )
    from webapp.celery_app import celery_init_app
    from webapp.extensions import csrf, db, htmx, login_manager
    from webapp.limits import policy as limits

    db.init_app(app)
    # First of the hooks: CSRFProtect reads the form, and so the body, next.
    app.before_request(security.allow_uploads)
    csrf.init_app(app)
    htmx.init_app(app)
    limits.init_app(app)
    login_manager.init_app(app)
    celery_init_app(app)

    from webapp.auth import sessions

    sessions.init_login_manager(login_manager)


def register_blueprints(app: Flask) -> None:
    """One blueprint per area."""
    from webapp.admin import (  # noqa: F401  (admin_bp's routes)
        import_routes,
        invite_routes,
        security_routes,
    )
    from webapp.admin.reminders import bp as reminders_bp
    from webapp.admin.routes import bp as admin_bp
    from webapp.admin.scim import bp as scim_admin_bp
    from webapp.admin.sso import bp as sso_admin_bp
    from webapp.auth.routes import bp as auth_bp
    from webapp.browser_sessions.routes import bp as browser_sessions_bp
    from webapp.health import bp as health_bp
    from webapp.limits.routes import bp as limits_bp
    from webapp.mfa.routes import bp as mfa_bp
    from webapp.passkeys.routes import bp as passkeys_bp
    from webapp.passwords.routes import bp as passwords_bp
    from webapp.scim.routes import bp as scim_bp
    from webapp.security import register_converters
    from webapp.sso.routes import bp as sso_bp

    register_converters(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(mfa_bp)
    app.register_blueprint(passkeys_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(sso_bp)
    app.register_blueprint(sso_admin_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(reminders_bp)
    app.register_blueprint(limits_bp)
    app.register_blueprint(passwords_bp)
    app.register_blueprint(scim_bp)
    app.register_blueprint(scim_admin_bp)
    app.register_blueprint(browser_sessions_bp)


def register_template_filters(app: Flask) -> None:
    """Filters and globals the templates share: `firm_time` and `days_ago` (see
    `webapp.timefmt`); `mfa_methods` ("App, Passkey ×2"); `is_fragment()`, true
    when htmx asked for part of a page (dialogs open as modals); `sign_in_lock(user)`,
    when a user's password lock ends (Edit user); `live_sessions(user)`, "Where
    you're signed in"."""
    from webapp.admin.user_list import mfa_methods
    from webapp.auth.sessions import current_session_id
    from webapp.browser_sessions.services import live_sessions
    from webapp.extensions import db
    from webapp.htmx import wants_fragment
    from webapp.limits.account_lock import lock_of
    from webapp.models import utcnow
    from webapp.timefmt import days_ago_filter, firm_time_filter

    app.add_template_filter(firm_time_filter, "firm_time")
    app.add_template_filter(days_ago_filter, "days_ago")
    app.add_template_filter(mfa_methods, "mfa_methods")
    app.add_template_global(wants_fragment, "is_fragment")
    app.add_template_global(lambda user: lock_of(user, utcnow()), "sign_in_lock")
    app.add_template_global(
        lambda user: live_sessions(db.session, user, utcnow(), app.config, current_session_id()),
        "live_sessions",
    )


def register_errorhandlers(app: Flask) -> None:
    """htmx-aware error pages (see `webapp.errors`)."""
    from webapp import errors

    errors.init_app(app)


def register_request_hooks(app: Flask) -> None:
    """Security headers and the session checks that run on every request."""
    from webapp import security
    from webapp.auth import sessions

    security.init_app(app)
    sessions.init_app(app)


def register_commands(app: Flask) -> None:
    """The `flask --app wsgi …` commands (the README's "Commands")."""
    from webapp.cli import register

    register(app)
