"""DocsGPT's task view of our jobs, and the job worker an app hosts.

Uploads used to run on an in-memory thread registry here; they are jobs now
(``application.jobs``): rows in SQL, run by huey's worker in this process or in
``docstune worker``. ``GET /api/task_status`` keeps DocsGPT's Celery-style answer,
read from the job row, so it works from any process.

Example::

    handle = AppJobs.attach(services)        # starts the in-process worker (JOBS_WORKER=thread)
    job = services.jobs.submit("reindex", {})
    task_view(services.jobs.store.get(job["id"]))["status"]   # "PENDING" → "PROGRESS" → "SUCCESS"
    handle.shutdown()
"""
from __future__ import annotations

# Celery's state names, which DocsGPT's clients already understand
PENDING, PROGRESS, SUCCESS, FAILURE = "PENDING", "PROGRESS", "SUCCESS", "FAILURE"
_CELERY_STATES = {"queued": PENDING, "running": PROGRESS, "done": SUCCESS, "failed": FAILURE, "cancelled": FAILURE}


def task_view(job: dict) -> dict:
    """A job row as DocsGPT's ``task_status`` answer (plus the job's own fields)."""
    return {
        "task_id": job["id"],
        "job_id": job["id"],
        "kind": job["kind"],
        "status": _CELERY_STATES[job["status"]],
        "job_status": job["status"],
        "progress": {k: job["progress"][k] for k in ("done", "total", "percent")},
        "result": job["result"],
        "error": job["error"],
        "created_at": job["created_at"],
        "finished_at": job["finished_at"],
    }


class AppJobs:
    """The job worker as one app sees it: started with the app (if it started it), stopped with it."""

    def __init__(self, runtime, started_here: bool):
        self.runtime = runtime
        self.started_here = started_here

    @classmethod
    def attach(cls, services) -> "AppJobs":
        runtime = services.jobs
        if services.settings.jobs_worker not in ("thread", "immediate"):
            return cls(runtime, False)
        started = runtime.start_worker()
        # this process runs the jobs (and holds the index): what the serving index waits for starts now
        runtime.start_pending_reindex()
        return cls(runtime, started)

    def shutdown(self, wait: bool = True) -> None:
        if self.started_here:
            self.runtime.stop_worker(wait=wait)
