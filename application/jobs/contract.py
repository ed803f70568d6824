"""What a job handler and the job runtime agree on: the context a handler gets, and how it fails.

A handler is ``handler(app, context) -> dict`` (its result; ``app``: the ``DocsTune`` container). It reports progress through
``context.progress`` (which raises ``JobCancelled`` once a cancel was asked for), may raise
``JobFailed`` to end with a reason and a partial result, and may start a follow-up swap
(``context.submit_swap``, e.g. the promotion after a retrain). The runtime
(``application.jobs.runtime``) is given the handlers; neither module imports the other.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from application.jobs.store import JobStore

if TYPE_CHECKING:
    from application.container import DocsTune


class JobFailed(Exception):
    """A job that ended badly but has a result worth keeping (e.g. which files failed and why)."""

    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class JobContext:
    """What a job handler gets: its parameters, progress, and a way to start a follow-up swap."""

    store: JobStore
    job_id: str
    params: dict
    submit_swap: Callable[[str, dict], dict]
    _last_write: float = field(default=0.0)

    def progress(self, done: int, total: int, message: str | None = None) -> None:
        """Record progress; at most a few writes a second, always the last one. Raises ``JobCancelled``."""
        now = time.monotonic()
        if done < total and message is None and now - self._last_write < 0.25:
            return
        self._last_write = now
        self.store.progress(self.job_id, done, total, message)

    def message(self, text: str) -> None:
        job = self.store.get(self.job_id)
        self.store.progress(self.job_id, job["progress"]["done"], job["progress"]["total"], text)

    def remember(self, **params) -> None:
        """Add to the job's params (e.g. the collection it builds), visible to others and to recovery."""
        self.params.update(params)
        self.store.update_params(self.job_id, **params)


Handler = Callable[["DocsTune", JobContext], dict]
