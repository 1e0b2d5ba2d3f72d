"""Extension objects, created unbound; `create_app` binds them to the app."""

from flask_login import LoginManager
from flask_wtf import CSRFProtect
from htmx_flask import Htmx

from webapp.db import Database

db = Database()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()
