"""gunicorn settings for DocsTune: ``gunicorn -c python:application.gunicorn_conf application.wsgi:app``.

Command-line flags still win. Threads, not processes, by default: Qdrant's local
mode lets only one process open its folder, so more than one worker needs a
Qdrant server (QDRANT_URL).
"""
from application.settings import get_settings

_settings = get_settings()

bind = f"{_settings.serve_host}:{_settings.serve_port}"
workers = 1
worker_class = "gthread"
threads = _settings.serve_threads
timeout = 120  # answers stream for a while; gthread workers keep beating meanwhile
graceful_timeout = 30
accesslog = "-"


def on_starting(server):
    if server.cfg.workers > 1 and not _settings.qdrant_url:
        raise SystemExit(
            f"DocsTune: {server.cfg.workers} worker processes cannot share Qdrant's local folder "
            f"{_settings.qdrant_path_resolved}. Run one worker with threads (--workers 1 --threads "
            f"{_settings.serve_threads}), or set QDRANT_URL to a Qdrant server to run several."
        )
