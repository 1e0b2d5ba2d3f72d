"""Extension objects, created unbound; `create_app` binds them to the app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

from webapp.db import Database

db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
# Storage comes from RATELIMIT_STORAGE_URI (Redis when REDIS_URL is set). If
# Redis goes away the limiter falls back to memory instead of failing requests.
limiter = Limiter(
    key_func=get_remote_address,
    in_memory_fallback_enabled=True,
    swallow_errors=True,
)
