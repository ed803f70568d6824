"""Background jobs: ingestion, re-indexing, promotion and retraining on a real task queue.

The queue is huey (SQLite file by default, Redis with ``REDIS_URL``); it only carries
a job's id. The job's state (status, progress, result, error) is a row in SQL
(``application.db.jobs.Job``), which every process and the admin API read.

Example::

    app = DocsTune(settings)                    # application.container
    job = app.jobs.submit("reindex", {})       # a row, and a message on the queue
    app.jobs.start_worker()                     # or `docstune worker` in another process
    app.jobs.store.get(job["id"])["status"]     # "queued" → "running" → "done"
"""
from application.jobs.store import JobCancelled, JobStore

__all__ = ["JobCancelled", "JobStore"]
