"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

import gc

from webapp import create_app

app = create_app()
# What start-up made (modules, the app, compiled templates) lives as long as
# the process: keep it out of the collector's full passes, each of which would
# otherwise walk ~120,000 objects and stall a request for 20-100 ms
# (seen in bench/users_filter.py).
gc.freeze()
