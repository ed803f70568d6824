"""Jobs on Redis: the API enqueues, separate `docstune worker` processes run them.

A real redis-server (tests/redis_server.py) and real worker processes (``python -m
application.cli worker``) on the API's DATA_DIR and database. What crosses processes: the
queue (Redis), the job rows (SQL: status, progress, cancel flag, heartbeat, which process runs
it) and the staged uploads (DATA_DIR/uploads). The embedded Qdrant Edge lets one process open its
folder, so here the API process never touches vectors while a worker runs (it opens Qdrant
lazily, on its first search), and the two-worker test uses jobs that need no vectors; with a
Qdrant server (QDRANT_URL) any number of processes can.
"""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.application.jobs.conftest import many_docs
from tests.live_server import stop_process, worker_output
from tests.redis_server import redis_server, redis_url  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "redis-test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


class Worker:
    """`docstune worker` in its own process, on the settings' DATA_DIR, database and Redis."""

    def __init__(self, settings, **env: str):
        environment = {
            **os.environ, "DATA_DIR": str(settings.data_dir), "DATABASE_URL": settings.database_url_resolved,
            "REDIS_URL": settings.redis_url, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1", "INGEST_BATCH_SIZE": str(settings.ingest_batch_size), **env,
        }
        self.process = subprocess.Popen([sys.executable, "-m", "application.cli", "worker"], cwd=ROOT,
                                        env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()
        self.wait_for("docstune worker:")

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker never printed {text!r}:\n{self.output}")
            time.sleep(0.05)

    def stop(self) -> int:
        return stop_process(self.process, timeout=60)

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would; reaped, so its pid is really gone."""
        self.process.kill()
        self.process.wait()


@pytest.fixture
def workers():
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def redis_app(make_settings, redis_url):  # noqa: F811
    """The API on Redis with no job worker of its own (JOBS_WORKER=off), as a web process in production."""
    from application.api import close_app, create_app

    settings = make_settings(REDIS_URL=redis_url, JOBS_WORKER="off", ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False,
                             UPLOAD_MAX_FILES=500, INGEST_BATCH_SIZE=1)
    app = create_app(settings)
    yield app
    close_app(app)


def upload(client, docs: dict[str, str]) -> str:
    files = {"file": [(io.BytesIO(text.encode()), name) for name, text in docs.items()]}
    response = client.post("/api/upload", data=files, headers=ADMIN, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["job_id"]


def job(client, job_id: str) -> dict:
    response = client.get(f"/api/jobs/{job_id}", headers=ADMIN)
    assert response.status_code == 200
    return response.get_json()


def follow(client, job_id: str, until=lambda j: j["status"] not in ("queued", "running"), timeout: float = 180):
    """Poll GET /api/jobs/<id> until ``until(job)``; returns every distinct snapshot seen, in order."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        current = job(client, job_id)
        key = (current["status"], current["progress"]["done"], current["progress"]["total"])
        if not seen or key != (seen[-1]["status"], seen[-1]["progress"]["done"], seen[-1]["progress"]["total"]):
            seen.append(current)
        if until(current):
            return seen
        assert time.monotonic() < deadline, f"job {job_id} stuck: {current}"
        time.sleep(0.05)


def services_of(app):
    return app.extensions["docstune"]


def test_an_upload_queued_on_redis_waits_for_a_worker_which_runs_it_in_another_process(redis_app, workers):
    client = redis_app.test_client()
    docs = many_docs(80)
    job_id = upload(client, docs)

    time.sleep(1.5)  # no worker anywhere: it waits on Redis
    waiting = job(client, job_id)
    assert waiting["status"] == "queued" and waiting["started_at"] is None

    workers.append(Worker(redis_app.extensions["docstune"].settings))
    seen = [waiting, *follow(client, job_id)]

    statuses = [s["status"] for s in seen]
    assert [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]] == ["queued", "running", "done"]
    assert any(0 < s["progress"]["done"] < s["progress"]["total"] for s in seen if s["status"] == "running"), seen
    done = seen[-1]
    assert done["progress"]["done"] == done["progress"]["total"] > 0 and done["progress"]["percent"] == 100.0
    assert sorted(done["result"]["added"]) == sorted(docs) and done["error"] is None
    assert re.search(rf"Job {job_id} \(ingest\) started in \S+:{workers[0].process.pid}", workers[0].output)

    services = services_of(redis_app)
    assert not services.store.is_open  # the API process never opened Qdrant: the worker did the work
    assert workers[0].stop() == 0
    # the worker is gone (and with it its hold on the local Qdrant folder): this process reads what it wrote
    hits = services.serving.search("zq17x1 gadget", k=1)
    assert hits and "zq17x1" in hits[0].text
    # no job waits; the worker's minute checks (recover, sync schedule) may have been queued just before it
    # stopped, and they are in the queue's count too
    pending = [task.name for task in services.jobs.huey.pending()]
    assert set(pending) <= {"docstune.recover", "docstune.sync_schedule", "docstune.retrain_policy"}, pending
    ready = client.get("/ready", headers=ADMIN)  # the admin sees where the queue is; anyone else that it works
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["jobs"] == {"ok": True, "queue": services.settings.redis_url, "waiting": len(pending),
                                        "worker": "separate (docstune worker)", "kind": "huey on Redis"}
    assert client.get("/ready").get_json()["jobs"] == {"ok": True, "waiting": len(pending),
                                                       "worker": "separate (docstune worker)"}


def test_cancel_through_the_api_stops_a_queued_job_before_and_a_running_one_during_its_run(redis_app, workers):
    client = redis_app.test_client()
    long_job = upload(client, many_docs(150))
    short_job = upload(client, {"short.txt": "A short note about the zq999 gadget."})

    cancelled = client.post(f"/api/jobs/{short_job}/cancel", headers=ADMIN).get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancel_requested"]

    worker = Worker(redis_app.extensions["docstune"].settings)
    workers.append(worker)
    follow(client, long_job, until=lambda j: j["status"] == "running" and j["progress"]["done"] >= 3)
    asked = client.post(f"/api/jobs/{long_job}/cancel", headers=ADMIN).get_json()
    assert asked["status"] == "running" and asked["cancel_requested"]
    ended = follow(client, long_job)[-1]

    assert ended["status"] == "cancelled", ended
    assert ended["progress"]["done"] < ended["progress"]["total"]
    worker.wait_for(f"Job {short_job}: not queued any more")  # the worker got its message, and skipped it
    short = job(client, short_job)
    assert short["status"] == "cancelled" and short["started_at"] is None
    assert f"Job {short_job} (ingest) started" not in worker.output


def test_a_job_whose_worker_was_killed_is_failed_when_a_worker_starts_never_left_running(redis_app, workers):
    client = redis_app.test_client()
    settings = redis_app.extensions["docstune"].settings
    job_id = upload(client, many_docs(150))
    first = Worker(settings)
    workers.append(first)
    follow(client, job_id, until=lambda j: j["status"] == "running" and j["progress"]["done"] >= 2)

    first.kill()
    time.sleep(1)
    assert job(client, job_id)["status"] == "running"  # nobody can know yet

    second = Worker(settings)
    workers.append(second)
    failed = follow(client, job_id, timeout=60)[-1]

    assert failed["status"] == "failed" and failed["finished_at"], failed
    assert "Interrupted" in failed["error"] and f":{first.process.pid})" in failed["error"]
    # the new worker goes on with new work (the dead one's hold on the Qdrant folder died with it)
    retry = upload(client, {"after.txt": "After the crash, the zq555 gadget was filed again."})
    assert follow(client, retry)[-1]["status"] == "done"


def test_two_workers_never_run_the_same_job_twice(redis_app, workers):
    from sqlalchemy import select

    from application.db.jobs import Job

    settings = redis_app.extensions["docstune"].settings
    workers.extend([Worker(settings), Worker(settings)])
    runtime = services_of(redis_app).jobs
    # retrain jobs with no feedback yet: they end at once and need no vectors, so two processes can
    # run them beside each other on the embedded Qdrant Edge
    ids = [runtime.submit("retrain", {})["id"] for _ in range(16)]
    for job_id in ids:
        runtime._run_task(job_id)  # the same message delivered twice (a redelivery, a retry)

    for job_id in ids:
        ended = runtime.store.wait(job_id, timeout=120)
        assert ended["status"] == "failed" and "No rated messages yet" in ended["error"], ended
    deadline = time.monotonic() + 60
    while sum(w.output.count(": not queued any more") for w in workers) < len(ids):
        assert time.monotonic() < deadline, [w.output for w in workers]
        time.sleep(0.1)

    output = "".join(w.output for w in workers)
    for job_id in ids:
        assert output.count(f"Job {job_id} (retrain) started") == 1, output
    pids = {str(w.process.pid) for w in workers}
    with services_of(redis_app).db.session() as session:
        ran_in = {row.rpartition(":")[2] for row in session.scalars(select(Job.worker).where(Job.id.in_(ids)))}
    assert ran_in <= pids
    assert all(w.process.poll() is None for w in workers)


def test_two_claims_racing_for_one_job_let_exactly_one_run_it(make_services):
    # two containers = two engines on one database, as two processes have
    first, second = make_services(JOBS_WORKER="off"), make_services(JOBS_WORKER="off")
    ids = [first.jobs.store.create("retrain", {})["id"] for _ in range(30)]
    winners: dict[str, list[str]] = {job_id: [] for job_id in ids}
    barrier = threading.Barrier(2)

    def claim_all(name, store):
        for job_id in ids:
            barrier.wait()
            if store.claim(job_id) is not None:
                winners[job_id].append(name)

    threads = [threading.Thread(target=claim_all, args=(name, services.jobs.store))
               for name, services in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(len(names) == 1 for names in winners.values()), winners
    assert all(first.jobs.store.get(job_id)["status"] == "running" for job_id in ids)


def test_an_unreachable_redis_is_a_clear_error_on_submit_and_in_ready(make_settings):
    from application.api import close_app, create_app
    from tests.live_server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(make_settings(REDIS_URL=url, JOBS_WORKER="off", ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False))
    try:
        client = app.test_client()
        started = time.monotonic()
        response = client.post("/api/upload", data={"file": [(io.BytesIO(b"Some text."), "a.txt")]},
                               headers=ADMIN, content_type="multipart/form-data")
        assert time.monotonic() - started < 30
        assert response.status_code == 503
        assert f"Cannot reach the job queue on Redis at {url}" in response.get_json()["error"]
        rows = services_of(app).jobs.store.list()
        assert len(rows) == 1 and rows[0]["status"] == "failed" and "Not queued" in rows[0]["error"]

        ready = client.get("/ready", headers=ADMIN)
        body = ready.get_json()
        assert ready.status_code == 503 and body["ok"] is False
        assert body["jobs"]["ok"] is False and url in body["jobs"]["error"]
        assert body["vector_store"]["ok"] is True  # the rest still works: the failing part is named
        anonymous = client.get("/ready")  # anyone else: which part fails, not where it is
        assert anonymous.status_code == 503 and anonymous.get_json()["jobs"]["ok"] is False
        assert url.removeprefix("redis://").split("/")[0] not in anonymous.get_data(as_text=True)
    finally:
        close_app(app)


def test_a_password_in_redis_url_never_reaches_the_workers_output(make_settings, redis_server):  # noqa: F811
    """`docstune worker` says which queue it uses, with the password hidden, in every line it prints
    (its start-up line, and the errors of a Redis that refuses the password)."""
    secret = "s3cret-redis-pass-0123"
    url = redis_server.url.replace("redis://", f"redis://:{secret}@", 1)
    settings = make_settings(REDIS_URL=url, JOBS_WORKER="off")
    # a few rounds of the queue refusing the password after the start-up line
    output = worker_output(settings, url, until="docstune worker:", settle_seconds=2)
    assert "docstune worker:" in output and ":***@127.0.0.1" in output, output
    assert secret not in output, output
