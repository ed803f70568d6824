"""Jobs are rows a person can read, run by huey (in-process threads or immediately), cancellable, recovered."""
import os
import subprocess
import sys
import threading
import time

import pytest

from application.errors import Conflict, NotFound
from tests.application.jobs.conftest import many_docs, write_docs
from tests.plugins.test_registry import tiny_plugin  # noqa: F401  (fixture)


def test_a_job_runs_on_the_in_process_worker_and_reports_progress(make_services, docs_dir):
    services = make_services(JOBS_WORKER="thread")
    services.documents.ingest_paths([docs_dir])
    runtime = services.jobs
    assert runtime.start_worker() is True and runtime.worker_running

    job = runtime.submit("reindex", {})
    assert job["status"] in ("queued", "running", "done")
    done = runtime.store.wait(job["id"], timeout=60)

    assert done["status"] == "done", done
    assert done["progress"]["done"] == done["progress"]["total"] == services.documents.chunk_count() > 0
    assert done["progress"]["percent"] == 100.0
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    assert done["result"]["collection"] == services.serving.current.collection
    runtime.stop_worker()
    assert not runtime.worker_running


def test_in_immediate_mode_a_job_has_ended_when_submit_returns(make_services, docs_dir):
    services = make_services(JOBS_WORKER="immediate")
    services.documents.ingest_paths([docs_dir])

    job = services.jobs.submit("reindex", {})

    assert job["status"] == "done" and job["result"]["chunks"] == services.documents.chunk_count()


def test_a_failing_job_is_failed_with_its_error_and_the_worker_goes_on(make_services, docs_dir):
    services = make_services(JOBS_WORKER="thread")
    services.documents.ingest_paths([docs_dir])
    runtime = services.jobs
    runtime.start_worker()

    bad = runtime.store.wait(runtime.submit("reindex", {"model": "/no/such/model/folder"})["id"], timeout=30)
    good = runtime.store.wait(runtime.submit("reindex", {})["id"], timeout=60)

    assert bad["status"] == "failed" and "/no/such/model/folder" in bad["error"]
    assert good["status"] == "done"


def test_a_queued_job_can_be_cancelled_and_never_runs(make_services, docs_dir):
    services = make_services(JOBS_WORKER="off")
    services.documents.ingest_paths([docs_dir])
    runtime = services.jobs
    job = runtime.submit("reindex", {"model": "/would/fail/if/it/ran"})
    assert runtime.store.get(job["id"])["status"] == "queued"

    cancelled = runtime.store.request_cancel(job["id"])
    runtime.start_worker()
    time.sleep(1.5)

    assert cancelled["status"] == "cancelled"
    after = runtime.store.get(job["id"])
    assert after["status"] == "cancelled" and after["started_at"] is None
    with pytest.raises(Conflict, match="already cancelled"):
        runtime.store.request_cancel(job["id"])
    with pytest.raises(NotFound):
        runtime.store.request_cancel("no-such-job")


def test_cancelling_a_running_reindex_removes_the_half_built_collection_and_serving_is_unchanged(
    make_services, tmp_path, tiny_plugin  # noqa: F811
):
    # serving: the fast hashing model; building: the real model, slowly, in batches of 2
    services = make_services(JOBS_WORKER="thread", EMBEDDINGS_NAME=tiny_plugin, INGEST_BATCH_SIZE=2)
    services.documents.ingest_paths([write_docs(tmp_path / "many", many_docs(60))])
    serving = services.serving.current.collection
    runtime = services.jobs
    runtime.start_worker()

    job = runtime.submit("reindex", {"model": "all-MiniLM-L6-v2"})
    deadline = time.monotonic() + 60
    while runtime.store.get(job["id"])["progress"]["done"] < 4:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runtime.store.request_cancel(job["id"])
    ended = runtime.store.wait(job["id"], timeout=60)

    assert ended["status"] == "cancelled", ended
    building = ended["params"]["collection"]
    assert building.startswith("chunks__all-minilm")
    assert not services.vector_store.collection_exists(building)
    assert services.serving.current.collection == serving == services.vector_store.alias_target()
    hits = services.serving.search("zq7x1 gadget", k=3)
    assert len(hits) == 3 and all("gadget" in h.text for h in hits)  # answered by the hashing collection


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_job_left_running_by_a_dead_process_is_marked_failed_when_a_worker_starts(make_services):
    import socket

    from application.db.jobs import Job

    services = make_services(JOBS_WORKER="off")
    store = services.jobs.store
    orphan = store.create("reindex", {})
    elsewhere = store.create("reindex", {})
    alive = store.create("reindex", {})
    with services.db.session() as session:
        from datetime import datetime, timedelta, timezone

        for job_id, worker, beat in (
            (orphan["id"], f"{socket.gethostname()}:{_dead_pid()}", datetime.now(timezone.utc)),
            (elsewhere["id"], "another-host:123", datetime.now(timezone.utc) - timedelta(hours=1)),
            (alive["id"], f"{socket.gethostname()}:{os.getpid()}", datetime.now(timezone.utc)),
        ):
            row = session.get(Job, job_id)
            row.status, row.worker, row.started_at, row.heartbeat_at = "running", worker, beat, beat

    recovered = services.jobs.recover()

    assert set(recovered) == {orphan["id"], elsewhere["id"]}
    for job_id in recovered:
        job = store.get(job_id)
        assert job["status"] == "failed" and "Interrupted" in job["error"] and job["finished_at"]
    assert store.get(alive["id"])["status"] == "running"  # its process (this one) is alive


def test_jobs_are_listed_newest_first_and_filtered_by_kind(make_services):
    services = make_services(JOBS_WORKER="off")
    store = services.jobs.store
    first = store.create("reindex", {})
    second = store.create("retrain", {})

    assert [j["id"] for j in store.list()][:2] == [second["id"], first["id"]]
    assert [j["id"] for j in store.list(kind="retrain")] == [second["id"]]


def test_the_worker_runs_jobs_submitted_by_another_thread_while_searches_go_on(make_services, docs_dir):
    services = make_services(JOBS_WORKER="thread")
    services.documents.ingest_paths([docs_dir])
    services.jobs.start_worker()
    errors = []

    def search():
        for _ in range(20):
            try:
                assert services.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    searcher = threading.Thread(target=search)
    searcher.start()
    job = services.jobs.store.wait(services.jobs.submit("reindex", {})["id"], timeout=60)
    searcher.join()
    assert job["status"] == "done" and not errors


def thread_niceness() -> dict[int, int]:
    """The niceness of every thread of this process (Linux keeps one per thread)."""
    found = {}
    for tid in map(int, os.listdir("/proc/self/task")):
        try:
            found[tid] = os.getpriority(os.PRIO_PROCESS, tid)
        except ProcessLookupError:  # a thread that ended meanwhile
            pass
    return found


def test_jobs_run_at_a_lower_priority_on_the_worker_and_never_lower_the_callers(make_services, docs_dir):
    from application.jobs.runtime import yield_cores

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    nice = min(base + 7, 19)
    services = make_services(JOBS_WORKER="immediate", JOBS_NICE=str(nice))
    services.documents.ingest_paths([docs_dir])
    assert services.jobs.submit("reindex", {})["status"] == "done"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # it ran in the caller's thread
    services.close()

    services = make_services(JOBS_WORKER="thread", JOBS_NICE=str(nice))
    services.documents.ingest_paths([docs_dir])
    before = thread_niceness()
    runtime = services.jobs
    runtime.start_worker()
    assert runtime.store.wait(runtime.submit("reindex", {})["id"], timeout=60)["status"] == "done"
    lowered = {tid for tid, value in thread_niceness().items() if value == nice and before.get(tid) != nice}
    runtime.stop_worker()
    assert lowered, "no worker thread ran at JOBS_NICE"
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base

    # a thread started by a lowered one inherits its priority (torch's and the tokenizers' threads)
    seen = {}

    def job_thread():
        seen["job"] = yield_cores(nice)
        child = threading.Thread(target=lambda: seen.update(child=os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        child.start()
        child.join()

    worker = threading.Thread(target=job_thread)
    worker.start()
    worker.join()
    assert seen == {"job": nice, "child": nice}
    assert yield_cores(0) is None
