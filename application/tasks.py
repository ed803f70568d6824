"""Background tasks of one process (uploads' ingestion), with status and progress.

A deliberately small stand-in for a job queue: tasks run one at a time on a
worker thread and live in memory, so ``GET /api/task_status`` must reach the
process that accepted the upload. A later issue replaces this with a real queue.

Example::

    tasks = TaskRegistry()
    task = tasks.submit("ingest", lambda progress: services.ingest_paths(paths, progress=progress).to_dict())
    tasks.get(task.id).to_dict()   # {"status": "PROGRESS", "progress": {"done": 3, "total": 10, ...}, ...}
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from application.errors import NotFound

log = logging.getLogger(__name__)

# Celery's state names, which DocsGPT's clients already understand
PENDING, PROGRESS, SUCCESS, FAILURE = "PENDING", "PROGRESS", "SUCCESS", "FAILURE"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Task:
    id: str
    kind: str
    status: str = PENDING
    done: int = 0
    total: int = 0
    result: dict | None = None
    error: str | None = None
    created_at: str = field(default_factory=_now)
    finished_at: str | None = None

    def to_dict(self) -> dict:
        percent = round(100 * self.done / self.total, 1) if self.total else (100.0 if self.status == SUCCESS else 0.0)
        return {
            "task_id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": {"done": self.done, "total": self.total, "percent": percent},
            "result": self.result,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


class TaskRegistry:
    def __init__(self, workers: int = 1, keep: int = 500):
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docstune-task")
        self._tasks: OrderedDict[str, Task] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep

    def submit(self, kind: str, work: Callable[[Callable[[int, int], None]], dict], cleanup: Callable[[], None] | None = None) -> Task:
        """Run ``work(progress)`` in the background; its return value becomes the task's result.
        ``work`` may return ``(result, failed: bool)`` to report a failure that still has a result."""
        task = Task(id=str(uuid.uuid4()), kind=kind)
        with self._lock:
            self._tasks[task.id] = task
            while len(self._tasks) > self._keep:
                self._tasks.popitem(last=False)

        def progress(done: int, total: int) -> None:
            task.status, task.done, task.total = PROGRESS, done, total

        def run() -> None:
            task.status = PROGRESS
            try:
                outcome = work(progress)
                failed = False
                if isinstance(outcome, tuple):
                    outcome, failed = outcome
                task.result = outcome
                task.status = FAILURE if failed else SUCCESS
                if failed:
                    task.error = "Nothing could be ingested; see result.failed for the reasons."
            except Exception as exc:
                log.exception("Task %s (%s) failed", task.id, kind)
                task.error = str(exc) or exc.__class__.__name__
                task.status = FAILURE
            finally:
                task.finished_at = _now()
                if cleanup is not None:
                    try:
                        cleanup()
                    except Exception:
                        log.exception("Cleaning up after task %s failed", task.id)

        self._executor.submit(run)
        return task

    def get(self, task_id: str | None) -> Task:
        with self._lock:
            task = self._tasks.get(task_id or "")
        if task is None:
            raise NotFound(
                f"No task {task_id!r} in this process. Tasks live in the server process that accepted the upload "
                "(run one worker process, or see the docs for QDRANT_URL deployments)."
            )
        return task

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
