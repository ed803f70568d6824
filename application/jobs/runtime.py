"""One process's side of the job system: submit jobs, run them, host a worker, recover after a crash."""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from application.errors import Conflict
from application.jobs.contract import Handler, JobContext, JobFailed
from application.jobs.queue import EmbeddedConsumer, make_huey, queue_error
from application.db.jobs import INGESTING_KINDS
from application.jobs.store import WORKER_ID, JobCancelled, JobStore
from training.memory import release_memory

if TYPE_CHECKING:
    from application.container import DocsTune

log = logging.getLogger(__name__)

SWAP_KINDS = ("reindex", "promote")
HEARTBEAT_SECONDS = 15.0
# held (in the queue's storage: the SQLite file or Redis) while a decision that must be taken by one
# process at a time is made; the TTL frees it if its process dies in between
LOCK_TTL_SECONDS = 30


class JobRuntime:
    def __init__(self, app: DocsTune, handlers: dict[str, Handler]):
        """``app``: what each handler is called with; ``handlers``: the job kinds this runtime runs
        (``application.jobs.handlers.HANDLERS``)."""
        from huey import crontab

        self.app = app
        self.handlers = handlers
        self.settings = app.settings
        self.store = JobStore(app.db)
        self.huey = make_huey(self.settings, immediate=self.settings.jobs_worker == "immediate")
        # the queue carries only the job id; producers and consumers register the same names
        self._run_task = self.huey.task(name="docstune.run_job")(self.run)
        every = self.settings.retrain_check_minutes
        self._policy_task = self.huey.periodic_task(crontab(minute=f"*/{every}"), name="docstune.retrain_policy")(
            self.check_retrain_policy
        )
        # every minute, in every worker: a job whose process died is marked failed even if no
        # worker restarts (the start of a worker does the same at once)
        self._recover_task = self.huey.periodic_task(crontab(minute="*"), name="docstune.recover")(
            self.recover_jobs
        )
        # every minute: the sources whose schedule says a sync is due get a sync job
        self._sync_schedule_task = self.huey.periodic_task(crontab(minute="*"), name="docstune.sync_schedule")(
            self.check_sync_schedule
        )
        self._consumer: EmbeddedConsumer | None = None
        # the CLI runs jobs (and their follow-ups) right here, without a queue or a worker
        self.inline = False
        self._consumer_lock = threading.Lock()

    # -- producing -------------------------------------------------------------------
    def submit(self, kind: str, params: dict | None = None) -> dict:
        """A job row, then a message on the queue; returns the row (already ended in immediate mode)."""
        return self._enqueue(self.store.create(kind, params))

    def _enqueue(self, job: dict) -> dict:
        if self.inline:
            self.run(job["id"])
        elif self.huey.immediate:
            self._run_task(job["id"])  # runs it here and now
        else:
            try:
                self._run_task(job["id"])
            except Exception as exc:  # Redis down: the row must not wait forever for a message never sent
                error = queue_error(self.settings, exc)
                self.store.finish(job["id"], "failed", error=f"Not queued: {error}")
                raise error from exc
        return self.store.get(job["id"])

    def running_swap(self) -> dict | None:
        active = self.store.active(SWAP_KINDS)
        return active[0] if active else None

    def submit_swap(self, kind: str, params: dict) -> dict:
        """A re-index or promotion; refused while another one is queued or running (in any process)."""
        with self._exclusive("swap", "Another swap is being started right now; try again in a moment."):
            running = self.running_swap()
            if running is not None:
                raise Conflict(f"A swap is already {running['status']} (job {running['id']}, {running['kind']}); "
                               f"wait for it or cancel it (POST /api/jobs/{running['id']}/cancel).")
            job = self.store.create(kind, params)
        return self._enqueue(job)

    @contextmanager
    def _exclusive(self, name: str, busy: str):
        """A lock in the queue's storage, shared by every process on the same queue (SQLite file or Redis);
        ``Conflict(busy)`` if another process holds it. A holder that died frees it after ``LOCK_TTL_SECONDS``."""
        if not self._try_lock(name):
            raise Conflict(busy)
        try:
            yield
        finally:
            self.huey.storage.delete_data(self._lock_key(name))

    def _lock_key(self, name: str) -> str:
        return f"{self.huey.name}.docstune-lock.{name}"

    def _try_lock(self, name: str) -> bool:
        from huey.constants import EmptyData
        from huey.storage import RedisStorage

        storage, key = self.huey.storage, self._lock_key(name)
        if isinstance(storage, RedisStorage):  # Redis expires the key itself
            return bool(storage.put_if_empty(key, b"1", LOCK_TTL_SECONDS))
        # SQLite (and the memory storage of immediate mode) keep no TTL: the value is the time it was taken
        if storage.put_if_empty(key, str(time.time()).encode()):
            return True
        held = storage.peek_data(key)
        try:
            stale = held is not EmptyData and time.time() - float(held) > LOCK_TTL_SECONDS
        except (TypeError, ValueError):
            stale = True
        if stale:
            log.warning("Taking over the lock %s, left by a process that stopped", name)
            storage.delete_data(key)
            return bool(storage.put_if_empty(key, str(time.time()).encode()))
        return False

    def start_pending_reindex(self) -> dict | None:
        """Start the re-index the serving index waits for (``ServingIndex.pending_work``: the configured
        model has no complete collection, or the serving one lacks lexical vectors), once; None if
        there is none or a swap runs already. Start-up calls it (``docstune serve``, ``worker``)."""
        try:
            pending = self.app.serving.pending_work()
        except Exception as exc:  # /ready and every search say it too
            log.warning("No re-index started: the serving index cannot be opened: %s", exc)
            return None
        if pending is None or self.running_swap() is not None:
            return None
        log.warning("Starting the re-index for the configured model %s", pending.name)
        try:  # several processes may notice at once: one of them starts it
            return self.submit_swap("reindex", {"model": pending.name,
                                                "reason": "the configured model is not indexed yet"})
        except Conflict:
            return None

    # -- consuming -------------------------------------------------------------------
    def run(self, job_id: str) -> None:
        """Run one job to its end; every outcome, a crash of the handler included, is written to its row."""
        job = self.store.claim(job_id)
        if job is None:
            log.info("Job %s: not queued any more (cancelled, or taken by another worker); skipped", job_id)
            return
        log.info("Job %s (%s) started in %s", job_id, job["kind"], WORKER_ID)
        if not self.inline and not self.huey.immediate:
            yield_cores(self.settings.jobs_nice)  # a worker thread: the job, not the caller's request
        context = JobContext(self.store, job_id, dict(job["params"]), self.submit_swap)
        stop_beating = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, stop_beating), daemon=True,
                                name=f"docstune-heartbeat-{job_id[:8]}")
        beat.start()
        try:
            result = self.handlers[job["kind"]](self.app, context)
            status = self.store.finish(job_id, "done", result=result or {})["status"]
        except JobCancelled:
            status = self.store.finish(
                job_id, "cancelled", error="Cancelled on request; what it had done half-way was undone.")["status"]
        except JobFailed as exc:
            status = self.store.finish(job_id, "failed", result=exc.result, error=self._stored(str(exc)))["status"]
        except Exception as exc:
            log.exception("Job %s (%s) failed", job_id, job["kind"])
            status = self.store.finish(job_id, "failed", error=self._stored(str(exc) or exc.__class__.__name__))["status"]
        finally:
            stop_beating.set()
            release_memory()  # what the job freed goes back to the OS, not kept at its peak until the next one
        log.info("Job %s (%s) %s", job_id, job["kind"], status)

    def _stored(self, error: str) -> str:
        """A job's error as its row keeps it: an SDK's or a driver's text, less the passwords and keys."""
        from application.redaction import Redactor

        return Redactor.of(self.settings).hide_secrets(error)

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            try:
                self.store.heartbeat(job_id)
            except Exception:
                log.debug("heartbeat of %s failed", job_id, exc_info=True)

    def recover_jobs(self) -> list[str]:
        """The queue's periodic check: running jobs whose process died are marked failed.

        Rows only: a half-built collection may belong to a `docstune reindex` run outside the
        queue, so collections are cleaned up only when a worker starts (``recover``).
        """
        try:
            with self._exclusive("recover", "another worker is recovering jobs"):
                failed = self.store.recover_interrupted(self.settings.jobs_stale_seconds)
        except Conflict:
            return []
        for job_id in failed:
            log.warning("Job %s was interrupted (its process stopped); marked failed", job_id)
        return failed

    def recover(self) -> list[str]:
        """After a restart: jobs whose process died are marked failed, half-built collections removed.

        An interrupted ingest job also loses its staged uploads, and the vectors it wrote without SQL
        rows are removed. Only the collections and those vectors touch the vector store, and only when
        there is something to clean, so a worker that starts does not open Qdrant (the embedded Edge:
        one process per folder) for nothing.
        """
        from application.retrieval.index import building_collections, drop_collection

        failed = self.store.recover_interrupted(self.settings.jobs_stale_seconds)
        for job_id in failed:
            log.warning("Job %s was interrupted (its process stopped); marked failed", job_id)
        interrupted_ingests = [job for job in map(self.store.get, failed) if job["kind"] in INGESTING_KINDS]
        for job in interrupted_ingests:
            self._remove_staged_folder(job)
            if job["kind"] == "sync":  # its source says so instead of "syncing" forever
                self.app.sources.interrupted(job["params"].get("source_id"))
        owned = {j["params"].get("collection") for j in self.store.active(SWAP_KINDS)}
        for record in building_collections(self.app.db):
            if record.name not in owned:
                log.warning("Removing the half-built collection %s of an interrupted re-index", record.name)
                try:
                    drop_collection(self.app.db, self.app.vector_store, record.name)
                except Exception:
                    log.exception("Could not remove %s", record.name)
        if interrupted_ingests:
            try:
                self._remove_orphan_vectors([job["id"] for job in interrupted_ingests])
            except Exception:
                log.exception("Could not remove the vectors left by the interrupted ingest jobs")
        return failed

    def _remove_staged_folder(self, job: dict) -> None:
        """The uploads an interrupted ingest job had staged (the job removes them when it ends)."""
        folder = job["params"].get("staged_folder")
        uploads = (self.settings.data_dir / "uploads").resolve()
        if folder and Path(folder).resolve().parent == uploads:  # only a folder that stage_uploads made
            shutil.rmtree(folder, ignore_errors=True)

    def _remove_orphan_vectors(self, job_ids: list[str]) -> None:
        """An ingest writes a file's vectors before its SQL rows: one killed half-way leaves vectors of
        chunks that SQL never got. Remove every point without a chunk row from the serving collection
        and the ones being built (their ids and SQL's, compared once, when a worker starts).

        Skipped while an ingest job runs (another process): its vectors precede its rows too.
        """
        from sqlalchemy import select

        from application.db.models import Chunk
        from application.vectorstore import ACTIVE_ALIAS

        if any(self.store.list(limit=1, kind=kind, statuses=("running",)) for kind in INGESTING_KINDS):
            log.info("Not looking for vectors left by interrupted ingest jobs: another ingest job is running")
            return
        store = self.app.vector_store
        building = (job["params"].get("collection") for job in self.store.active(SWAP_KINDS))
        names = {store.alias_target(ACTIVE_ALIAS), *building}
        names = sorted(n for n in names if n and store.collection_exists(n))
        with self.app.db.session() as session:
            chunk_ids = set(session.scalars(select(Chunk.id)))
        removed = {}
        for name in names:
            orphans = sorted(store.point_ids(name) - chunk_ids)
            for start in range(0, len(orphans), 1000):
                store.delete(name, orphans[start:start + 1000])
            if orphans:
                removed[name] = len(orphans)
        if removed:
            log.warning("Removed the vectors that interrupted ingest jobs %s left without a chunk row: %s",
                        ", ".join(job_ids), ", ".join(f"{n} from {name}" for name, n in removed.items()))
        else:
            log.info("Interrupted ingest jobs %s left no vectors without a chunk row in %s",
                     ", ".join(job_ids), ", ".join(names) or "the vector store")

    @property
    def worker_running(self) -> bool:
        return self._consumer is not None

    def worker_health(self) -> str | None:
        """None when this process's job worker can take jobs, else what is wrong. A job thread or
        the scheduler that died is restarted here (huey's own check); the queue must answer."""
        from application.jobs.queue import queue_check

        consumer = self._consumer
        if consumer is None:
            return "the job worker is not running"
        if consumer.stop_flag.is_set():
            return "the job worker is stopping"
        if not consumer.check_worker_health():
            log.warning("A job worker thread had died and was restarted")
        queue = queue_check(self.huey, self.settings)
        return None if queue["ok"] else queue["error"]

    def start_worker(self, *, threads: int = 1) -> bool:
        """Run queued jobs in threads of this process; returns False if already running or not wanted."""
        if self.huey.immediate:
            self.recover()
            return False
        with self._consumer_lock:
            if self._consumer is not None:
                return False
            self.recover()
            consumer = EmbeddedConsumer(self.huey, workers=threads, periodic=True, initial_delay=0.05,
                                        backoff=1.5, max_delay=self.settings.jobs_poll_seconds,
                                        worker_type="thread", check_worker_health=False)
            consumer.start()
            self._consumer = consumer
        return True

    def stop_worker(self, wait: bool = True) -> None:
        with self._consumer_lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            # a running job finishes first when ``wait`` (its half-work would be undone anyway)
            consumer.stop(graceful=wait)

    # -- sources: sync jobs, on demand and on their schedule -----------------------------
    def running_sync(self, source_id: str) -> dict | None:
        return next((job for job in self.store.active(("sync",)) if job["params"].get("source_id") == source_id),
                    None)

    def submit_sync(self, source_id: str, trigger: str = "admin") -> dict:
        """A sync job for one source; refused while one for the same source is queued or running."""
        with self._exclusive(f"sync-{source_id}", "A sync of this source is being started right now; "
                                                  "try again in a moment."):
            running = self.running_sync(source_id)
            if running is not None:
                raise Conflict(f"This source is already being synced (job {running['id']}, {running['status']}); "
                               f"wait for it or cancel it (POST /api/jobs/{running['id']}/cancel).")
            job = self.store.create("sync", {"source_id": source_id, "trigger": trigger})
        return self._enqueue(job)

    def check_sync_schedule(self) -> list[str]:
        """Start a sync job for every source whose schedule says one is due (the queue's periodic task)."""
        started = []
        try:
            with self._exclusive("sync_schedule", "another worker is checking the sync schedule"):
                due = self.app.sources.due()
                jobs = []
                for source_id in due:
                    if self.running_sync(source_id) is None:
                        jobs.append(self.store.create("sync", {"source_id": source_id, "trigger": "schedule"}))
        except Conflict:
            return started
        for job in jobs:
            self._enqueue(job)
            started.append(job["id"])
        return started

    # -- the retrain policy (the queue's periodic task) ----------------------------------
    def new_rated_messages(self) -> int:
        """Messages rated (like/dislike) since the last retrain job was created."""
        from sqlalchemy import func, select

        from application.db.chat import Feedback

        since = self.store.latest_created_at("retrain")
        query = select(func.count(func.distinct(Feedback.message_id))).where(Feedback.verdict.is_not(None))
        if since is not None:
            query = query.where(Feedback.updated_at > since)
        with self.app.db.session() as session:
            return session.scalar(query) or 0

    def check_retrain_policy(self) -> dict | None:
        """Start a retrain once ``RETRAIN_MIN_NEW_FEEDBACK`` messages were rated since the last one (0 = off)."""
        threshold = self.settings.retrain_min_new_feedback
        if not threshold:
            return None
        # every worker's scheduler enqueues this check: one of them decides, the others see its job
        try:
            with self._exclusive("retrain_policy", "another worker is checking the retrain policy"):
                if self.store.active(("retrain",)):
                    return None
                fresh = self.new_rated_messages()
                if fresh < threshold:
                    return None
                log.warning("%s messages rated since the last retrain (RETRAIN_MIN_NEW_FEEDBACK=%s): retraining",
                            fresh, threshold)
                job = self.store.create("retrain", {"auto_promote": False,
                                                    "trigger": f"policy: {fresh} new rated messages"})
        except Conflict:
            return None
        return self._enqueue(job)


class AppJobs:
    """The job worker as one app sees it (``JOBS_WORKER=thread``: the app hosts it): started with the app (if it started it), stopped with it."""

    def __init__(self, runtime, started_here: bool):
        self.runtime = runtime
        self.started_here = started_here

    @classmethod
    def attach(cls, app: DocsTune) -> "AppJobs":
        runtime = app.jobs
        if app.settings.jobs_worker not in ("thread", "immediate"):
            return cls(runtime, False)
        started = runtime.start_worker()
        # this process runs the jobs (and holds the index): what the serving index waits for starts now
        runtime.start_pending_reindex()
        return cls(runtime, started)

    def shutdown(self, wait: bool = True) -> None:
        if self.started_here:
            self.runtime.stop_worker(wait=wait)


def yield_cores(nice: int) -> int | None:
    """Lower the calling thread's scheduling priority to ``nice`` (Linux keeps one per thread; the threads
    torch and the tokenizers start from it inherit it), so that the chat's threads get the cores first
    while a retrain or a re-index runs. Never raises it back (that needs privileges): call it only in a
    thread that runs jobs and nothing else. The niceness now, or None where the system has none."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return None
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError as exc:  # a container without the permission: run at the server's priority
        log.debug("Could not lower the job thread's priority: %s", exc)
        return None
