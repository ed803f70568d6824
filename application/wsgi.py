"""The WSGI entry point for gunicorn::

    gunicorn -c python:application.gunicorn_conf application.wsgi:app

With the embedded Qdrant Edge (no QDRANT_URL) run one worker process with threads;
``application.gunicorn_conf`` refuses more. The admin token is created on first
start if ADMIN_TOKEN is unset (see ``DATA_DIR/admin_token``).
"""
import logging
import threading

from application import create_app
from application.api.auth import ensure_admin_token
from application.readiness import readiness
from application.settings import get_settings

log = logging.getLogger("docstune")

_settings = get_settings()
_token, _created = ensure_admin_token(_settings)
if _created:
    log.warning("Created an admin token in %s (mode 0600).", _settings.admin_token_file)

app = create_app(_settings)

# load the embedding model and open the index now, not on the first question
threading.Thread(target=readiness, args=(app.extensions["docstune"],), name="docstune-warmup", daemon=True).start()
