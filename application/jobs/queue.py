"""The task queue: huey, on a SQLite file by default and on Redis when ``REDIS_URL`` is set.

Why huey: it has an embedded default that needs no server (its SQLite storage, one
file in ``DATA_DIR``), the same code runs on Redis when the deployment grows, its
consumer runs as threads inside our process or alone (``docstune worker``), and it
has periodic tasks (the retrain policy). Celery and RQ need a broker even on one
machine; arq and Dramatiq are Redis/RabbitMQ first.
"""
from __future__ import annotations

import logging

from huey.consumer import Consumer

from application.errors import ServiceUnavailable

log = logging.getLogger(__name__)

QUEUE_NAME = "docstune"


def make_huey(settings, *, immediate: bool = False):
    """The huey instance for these settings (tasks are registered on it by ``JobRuntime``)."""
    if settings.redis_url:
        try:
            import redis  # noqa: F401
        except ImportError as exc:
            raise ServiceUnavailable(
                f"REDIS_URL is set ({settings.redis_url}) but the `redis` package is not installed: "
                f"run `pip install redis`, or unset REDIS_URL to use the SQLite job queue in DATA_DIR."
            ) from exc
        from huey import RedisHuey

        return RedisHuey(QUEUE_NAME, url=settings.redis_url, results=False, immediate=immediate, utc=True)
    from huey import SqliteHuey

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(QUEUE_NAME, filename=str(settings.jobs_db_file), results=False, immediate=immediate, utc=True)


class EmbeddedConsumer(Consumer):
    """huey's consumer as threads inside a process that owns its signals (gunicorn, click).

    ``Consumer.start`` installs SIGINT/SIGTERM/SIGHUP handlers for a stand-alone consumer;
    inside ``docstune serve`` those belong to gunicorn, so we leave them alone and stop the
    consumer ourselves (``stop``) when the app closes.
    """

    def _set_signal_handlers(self):
        pass
