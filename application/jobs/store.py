"""Job rows: create, claim, report progress, finish, cancel, and recover after a crash."""
from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import func, select, update

from application.db import Database
from application.db.base import utcnow
from application.db.jobs import ACTIVE_STATUSES, JOB_KINDS, JOB_STATUSES, Job
from application.errors import BadRequest, Conflict, NotFound
from application.request_values import quoted

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class JobCancelled(BaseException):
    """Raised inside a job when someone asked to cancel it; the runner marks it cancelled.

    A ``BaseException`` (like ``asyncio.CancelledError``): code that turns one item's failure
    into a report line (``except Exception`` around each file of an ingest) must not swallow
    a cancel; cleanup in ``except BaseException`` / ``finally`` still runs.
    """


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    def __init__(self, db: Database):
        self.db = db

    # -- reading -------------------------------------------------------------------
    def get(self, job_id: str | None) -> dict:
        with self.db.session() as session:
            job = session.get(Job, job_id or "")
            if job is None:
                raise NotFound(f"No job {quoted(job_id)}; GET /api/jobs lists them.")
            return job.to_dict()

    def list(self, limit: int = 50, kind: str | None = None, statuses: tuple[str, ...] | None = None) -> list[dict]:
        if kind is not None and kind not in JOB_KINDS:
            raise BadRequest(f"Unknown job kind {quoted(kind)}; one of: {', '.join(JOB_KINDS)}.")
        query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
        if kind:
            query = query.where(Job.kind == kind)
        if statuses:
            query = query.where(Job.status.in_(statuses))
        with self.db.session() as session:
            return [job.to_dict() for job in session.scalars(query)]

    def active(self, kinds: tuple[str, ...]) -> list[dict]:
        """Queued or running jobs of these kinds, newest first."""
        query = select(Job).where(Job.kind.in_(kinds), Job.status.in_(ACTIVE_STATUSES)).order_by(Job.created_at.desc())
        with self.db.session() as session:
            return [job.to_dict() for job in session.scalars(query)]

    def latest_created_at(self, kind: str):
        with self.db.session() as session:
            return session.scalar(select(func.max(Job.created_at)).where(Job.kind == kind))

    # -- writing -------------------------------------------------------------------
    def create(self, kind: str, params: dict | None = None) -> dict:
        if kind not in JOB_KINDS:
            raise BadRequest(f"Unknown job kind {quoted(kind)}; one of: {', '.join(JOB_KINDS)}.")
        with self.db.session() as session:
            job = Job(id=str(uuid.uuid4()), kind=kind, status="queued", params=params or {}, progress_done=0,
                      progress_total=0, progress_message="queued", cancel_requested=False, created_at=utcnow())
            session.add(job)
            session.flush()
            return job.to_dict()

    def claim(self, job_id: str) -> dict | None:
        """queued → running for this process; ``None`` if it was cancelled or taken meanwhile.

        One conditional UPDATE, so that two workers (threads or processes, SQLite or PostgreSQL)
        handed the same id never both run it: only one of them changes the row.
        """
        now = utcnow()
        with self.db.session() as session:
            taken = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued", Job.cancel_requested.is_(False))
                .values(status="running", started_at=now, heartbeat_at=now, worker=WORKER_ID,
                        progress_message="started")
                .execution_options(synchronize_session=False)
            ).rowcount
            if not taken:
                # cancelled while queued (the cancel normally ends it at once; this closes the gap)
                session.execute(
                    update(Job).where(Job.id == job_id, Job.status == "queued", Job.cancel_requested.is_(True))
                    .values(status="cancelled", finished_at=now, progress_message="cancelled before it started")
                    .execution_options(synchronize_session=False)
                )
                return None
            return session.get(Job, job_id).to_dict()

    def progress(self, job_id: str, done: int, total: int, message: str | None = None) -> None:
        """Record progress (and a heartbeat); raises ``JobCancelled`` if a cancel was asked for."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.progress_done, job.progress_total = int(done), int(total)
            if message is not None:
                job.progress_message = message[:512]
            job.heartbeat_at = utcnow()
            cancel = job.cancel_requested
        if cancel:
            raise JobCancelled(f"job {job_id} was cancelled")

    def heartbeat(self, job_id: str) -> bool:
        """Note that the job is alive; returns whether a cancel was asked for."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return False
            job.heartbeat_at = utcnow()
            return bool(job.cancel_requested)

    def cancel_requested(self, job_id: str) -> bool:
        with self.db.session() as session:
            job = session.get(Job, job_id)
            return bool(job and job.cancel_requested)

    def finish(self, job_id: str, status: str, *, result: dict | None = None, error: str | None = None,
               message: str | None = None) -> dict:
        assert status in JOB_STATUSES
        with self.db.session() as session:
            job = session.get(Job, job_id)
            job.status, job.finished_at = status, utcnow()
            if result is not None:
                job.result = result
            job.error = error
            if status == "done" and job.progress_total:
                job.progress_done = job.progress_total
            job.progress_message = (message or status)[:512]
            return job.to_dict()

    def update_params(self, job_id: str, **params) -> None:
        with self.db.session() as session:
            job = session.get(Job, job_id)
            job.params = {**(job.params or {}), **params}

    def request_cancel(self, job_id: str) -> dict:
        """A queued job is cancelled at once; a running one stops at its next progress report.

        Conditional UPDATEs, so a worker claiming the job at the same moment either sees the
        cancel (and never starts) or has started it (and stops at its next progress report).
        """
        with self.db.session() as session:
            flagged = session.execute(
                update(Job).where(Job.id == job_id, Job.status.in_(ACTIVE_STATUSES))
                .values(cancel_requested=True).execution_options(synchronize_session=False)
            ).rowcount
            if not flagged:
                job = session.get(Job, job_id)
                if job is None:
                    raise NotFound(f"No job {quoted(job_id)}; GET /api/jobs lists them.")
                raise Conflict(f"Job {job_id} is already {job.status}; only a queued or running job can be cancelled.")
            session.execute(
                update(Job).where(Job.id == job_id, Job.status == "queued")
                .values(status="cancelled", finished_at=utcnow(), progress_message="cancelled before it started")
                .execution_options(synchronize_session=False)
            )
            session.execute(
                update(Job).where(Job.id == job_id, Job.status == "running")
                .values(progress_message="cancelling").execution_options(synchronize_session=False)
            )
            return session.get(Job, job_id).to_dict()

    def recover_interrupted(self, stale_seconds: int) -> list[str]:
        """Mark failed the running jobs whose process is gone: never "running" forever.

        A job of this host whose process no longer exists died with it; a job of another host
        is judged by its heartbeat (``JOBS_STALE_SECONDS``).
        """
        recovered = []
        now = utcnow()
        host = WORKER_ID.split(":")[0]
        with self.db.session() as session:
            for job in session.scalars(select(Job).where(Job.status == "running")):
                worker_host, _, pid = (job.worker or ":").rpartition(":")
                if worker_host == host:
                    dead = not pid.isdigit() or not _pid_alive(int(pid))
                else:
                    beat = job.heartbeat_at or job.started_at or job.created_at
                    if beat.tzinfo is None:
                        beat = beat.replace(tzinfo=now.tzinfo)
                    dead = (now - beat).total_seconds() > stale_seconds
                if dead:
                    job.status, job.finished_at = "failed", now
                    job.error = (f"Interrupted: the process running it ({job.worker}) stopped before the job ended. "
                                 f"Nothing it did half-way is served; start it again if still wanted.")
                    job.progress_message = "interrupted"
                    recovered.append(job.id)
        return recovered

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.1) -> dict:
        """Block until the job ends (tests, the CLI); returns its final row."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job["status"] not in ACTIVE_STATUSES:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} did not finish in {timeout}s: {job}")
            time.sleep(poll)
