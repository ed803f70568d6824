"""The task queue: huey, on a SQLite file by default and on Redis when ``REDIS_URL`` is set.

Why huey: it has an embedded default that needs no server (its SQLite storage, one
file in ``DATA_DIR``), the same code runs on Redis when the deployment grows, its
consumer runs as threads inside our process or alone (``docstune worker``), and it
has periodic tasks (the retrain policy). Celery and RQ need a broker even on one
machine; arq and Dramatiq are Redis/RabbitMQ first.
"""
from __future__ import annotations

import logging
from pathlib import Path

from huey.consumer import Consumer

from application.errors import ServiceUnavailable
from application.redaction import redact_url

log = logging.getLogger(__name__)

QUEUE_NAME = "docstune"
REDIS_CONNECT_TIMEOUT = 5.0
REDIS_SOCKET_TIMEOUT = 10.0


def describe_queue(settings) -> str:
    """Where the jobs wait, for messages (a password in REDIS_URL is hidden)."""
    if settings.redis_url:
        return redact_url(settings.redis_url)
    return str(Path(settings.jobs_db_file).absolute())  # a relative DATA_DIR means nothing in a report


def queue_error(settings, exc: BaseException) -> ServiceUnavailable:
    """The queue could not be written to or read from, as one line that says what to check."""
    if settings.redis_url:
        return ServiceUnavailable(f"Cannot reach the job queue on Redis at {describe_queue(settings)}: {exc}. "
                                  f"Is Redis running, and is REDIS_URL right?")
    return ServiceUnavailable(f"Cannot use the job queue {describe_queue(settings)}: {exc}")


def queue_check(huey, settings) -> dict:
    """For ``/ready``: can this process reach the queue, and how many jobs wait in it."""
    try:
        waiting = huey.pending_count()
    except Exception as exc:
        return {"ok": False, "queue": describe_queue(settings), "error": str(queue_error(settings, exc))}
    return {"ok": True, "queue": describe_queue(settings), "waiting": waiting}


def make_huey(settings, *, immediate: bool = False):
    """The huey instance for these settings (tasks are registered on it by ``JobRuntime``)."""
    if settings.redis_url:
        try:
            import redis
        except ImportError as exc:
            raise ServiceUnavailable(
                f"REDIS_URL is set ({describe_queue(settings)}) but the `redis` package is not installed: "
                f"run `pip install redis`, or unset REDIS_URL to use the SQLite job queue in DATA_DIR."
            ) from exc
        from huey import RedisHuey

        # bounded waits: a Redis that is down or unreachable is an error in seconds, not a hang
        # (the read timeout stays above huey's 1 s blocking pop)
        pool = redis.ConnectionPool.from_url(settings.redis_url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT,
                                             socket_timeout=REDIS_SOCKET_TIMEOUT, health_check_interval=30)
        return RedisHuey(QUEUE_NAME, connection_pool=pool, results=False, immediate=immediate, utc=True)
    from huey import SqliteHuey

    settings.create_data_dir()
    return SqliteHuey(QUEUE_NAME, filename=str(settings.jobs_db_file), results=False, immediate=immediate, utc=True)


class EmbeddedConsumer(Consumer):
    """huey's consumer as threads inside a process that owns its signals (gunicorn, click).

    ``Consumer.start`` installs SIGINT/SIGTERM/SIGHUP handlers for a stand-alone consumer;
    inside ``docstune serve`` those belong to gunicorn, so we leave them alone and stop the
    consumer ourselves (``stop``) when the app closes.
    """

    def _set_signal_handlers(self):
        pass
