"""gunicorn settings for DocsTune: ``gunicorn -c python:application.gunicorn_conf application.wsgi:app``.

* ``bind``: ``SERVE_HOST:SERVE_PORT`` (the Docker image sets ``SERVE_HOST=0.0.0.0``).
* ``workers``: ``WEB_CONCURRENCY`` worker processes (gunicorn's own convention; default 1),
  each a ``gthread`` worker with ``SERVE_THREADS`` threads.
* timeouts: 120 s per request (answers stream for a while; gthread workers keep
  beating meanwhile), 30 s for running requests to finish on a restart or SIGTERM.

``GUNICORN_CMD_ARGS`` and command-line flags still win over this file
(``GUNICORN_CMD_ARGS="--timeout 300 --graceful-timeout 60"``).

More than one worker process needs a Qdrant server (``QDRANT_URL``): Qdrant's
embedded engine (Qdrant Edge) lets only one process open its folder, so :func:`on_starting` refuses
``--workers`` above 1 without it.
"""
import os

from application.settings import get_settings

_settings = get_settings()


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise SystemExit(f"DocsTune: {name}={raw!r} is not a positive whole number of worker processes.")
    return value


bind = f"{_settings.serve_host}:{_settings.serve_port}"
workers = _positive_int("WEB_CONCURRENCY", 1)
worker_class = "gthread"
threads = _settings.serve_threads
timeout = 120
graceful_timeout = 30
# seconds an idle keep-alive connection stays open; behind a load balancer make it longer than the
# balancer's idle timeout (GUNICORN_CMD_ARGS="--keep-alive 75"), or the balancer meets closed connections
keepalive = 5
accesslog = "-"
# the heartbeat file of each worker: in memory where there is /dev/shm (containers: /tmp may be a slow overlay)
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def on_starting(server):
    if server.cfg.workers > 1 and not _settings.qdrant_url:
        raise SystemExit(
            f"DocsTune: {server.cfg.workers} worker processes cannot share the embedded Qdrant Edge folder "
            f"{_settings.qdrant_path_resolved}. Run one worker with threads (--workers 1 --threads "
            f"{_settings.serve_threads}), or set QDRANT_URL to a Qdrant server to run several."
        )
