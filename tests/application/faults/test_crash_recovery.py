"""Crash safety with real processes: a `docstune serve` killed with SIGKILL (its whole process
group: gunicorn's master and worker, no shutdown code runs) in the middle of an ingest job or of
a re-index job, then started again on the same DATA_DIR and port. The restarted server serves the
last complete collection, its vectors match the chunk rows in SQL one for one, the interrupted
job is failed (saying it was interrupted) and what it left half-done is gone: the vectors of the
killed ingest batch and its staged upload, the half-built collection's shard folder and its
``vector_collections`` row. Redoing the interrupted work then succeeds.

Works on SQLite and on PostgreSQL (DOCSTUNE_TEST_DATABASE=postgresql: ServerProcess passes the
database of DATA_DIR, ``tmp_path / "data"``, to the server).
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
import requests

from tests.application.faults.helpers import ADMIN_TOKEN, ServerProcess
from tests.application.swap.conftest import model_b_source  # noqa: F401  (fixture: a second real model)
from tests.conftest import DOCS

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# small chunks in batches of 4: a couple of hundred chunks keep a job busy for seconds, in many batches
SETTINGS = {"ADMIN_TOKEN": ADMIN_TOKEN, "INGEST_BATCH_SIZE": "4", "CHUNK_TOKENS": "32", "CHUNK_OVERLAP_TOKENS": "0"}
BIG_NAME = "lighthouse-log.txt"
WORDS = ("lighthouse harbour granite tide keeper lantern signal fog coast rocks beacon storm vessel island "
         "north chart compass gull reef buoy").split()


def big_document(paragraphs: int = 100) -> str:
    """About two chunks a paragraph at CHUNK_TOKENS=32; no word of the test documents."""
    rng = random.Random(11)
    return "\n\n".join(f"Entry {n}. " + " ".join(rng.choice(WORDS) for _ in range(60)) + "."
                       for n in range(paragraphs))


def upload(url: str, files: dict[str, str]) -> str:
    response = requests.post(f"{url}/api/upload", headers=ADMIN, timeout=60,
                             files=[("file", (name, text.encode())) for name, text in files.items()])
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def get_job(url: str, job_id: str) -> dict:
    response = requests.get(f"{url}/api/jobs/{job_id}", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def wait_for_job(url: str, job_id: str, until, seconds: float, what: str) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        job = get_job(url, job_id)
        if until(job):
            return job
        assert job["status"] in ("queued", "running"), (what, job)  # it ended before the condition held
        assert time.monotonic() < deadline, f"{what} within {seconds}s: {job}"
        time.sleep(0.05)


def midway(job: dict) -> bool:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return job["status"] == "running" and 0 < done < total


def ended(job: dict) -> bool:
    return job["status"] not in ("queued", "running")


def ready(url: str) -> dict:
    response = requests.get(f"{url}/ready", timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def search(url: str, question: str, chunks: int = 3) -> list[dict]:
    response = requests.post(f"{url}/api/search", json={"question": question, "chunks": chunks}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def sql_chunks_via_api(url: str) -> int:
    response = requests.get(f"{url}/api/sources", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return sum(source["chunk_count"] for source in response.json())


def assert_serves_the_documents(url: str) -> None:
    assert search(url, "Can I get my money back within 30 days?")[0]["title"] == "Refund policy"


def stored_state(data_dir: Path) -> dict:
    """What is on disk while no server runs: the alias file, the shard folders, every collection's
    point ids, SQL's chunk ids, ``vector_collections`` and job rows (the DATA_DIR's own database)."""
    from sqlalchemy import select

    from application.db.jobs import Job
    from application.db.models import Chunk, VectorCollection
    from application.container import DocsTune
    from application.settings import Settings

    services = DocsTune(Settings(DATA_DIR=data_dir))
    try:
        store = services.vector_store
        with services.db.session() as session:
            chunk_ids = set(session.scalars(select(Chunk.id)))
            collections = {r.name: r.status for r in session.scalars(select(VectorCollection))}
            jobs = {j.id: j.to_dict() for j in session.scalars(select(Job))}
        qdrant = data_dir / "qdrant"
        return {
            "aliases": json.loads((qdrant / "aliases.json").read_text()),
            "shards": sorted(p.name for p in (qdrant / "shards").iterdir() if not p.name.startswith(".")),
            "points": {name: store.point_ids(name) for name in store.list_collections()},
            "chunk_ids": chunk_ids,
            "collections": collections,
            "jobs": jobs,
        }
    finally:
        services.close()


def staged_uploads(data_dir: Path) -> list[str]:
    uploads = data_dir / "uploads"
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"  # the DATA_DIR whose PostgreSQL database the test fixture drops afterwards


def test_a_server_killed_during_an_ingest_job_restarts_serving_the_complete_collection(data_dir):
    server = ServerProcess(data_dir, **SETTINGS).start()
    try:
        first = wait_for_job(server.url, upload(server.url, DOCS), ended, 60, "the first documents ingested")
        assert first["status"] == "done", first
        assert_serves_the_documents(server.url)
        serving = ready(server.url)["vector_store"]
        complete_points = serving["points"]
        assert complete_points == sql_chunks_via_api(server.url) > 0

        document = big_document()
        job_id = upload(server.url, {BIG_NAME: document})
        killed_at = wait_for_job(server.url, job_id, midway, 45, "the big ingest half-way")
        server.kill()

        # what the kill left: a job row still "running", vectors of the killed batches without chunk rows
        left = stored_state(data_dir)
        assert left["jobs"][job_id]["status"] == "running"
        orphans = left["points"][serving["collection"]] - left["chunk_ids"]
        assert len(orphans) >= killed_at["progress"]["done"] > 0  # acknowledged upserts survive a SIGKILL
        assert staged_uploads(data_dir) != []

        server.start()
        after = ready(server.url)["vector_store"]
        assert after["collection"] == serving["collection"]
        assert after["points"] == complete_points == sql_chunks_via_api(server.url)  # the orphans are gone
        assert_serves_the_documents(server.url)
        job = get_job(server.url, job_id)
        assert job["status"] == "failed" and job["error"].startswith("Interrupted"), job
        assert job["finished_at"]
        assert staged_uploads(data_dir) == []  # the staged upload of the interrupted job is removed
        log = "".join(server.lines)
        assert f"Job {job_id} was interrupted" in log
        assert f"Removed the vectors that interrupted ingest jobs {job_id} left without a chunk row" in log

        # the same file again: ingested whole
        again = wait_for_job(server.url, upload(server.url, {BIG_NAME: document}), ended, 60, "the re-upload")
        assert again["status"] == "done" and again["result"]["added"] == [BIG_NAME], again
        assert again["result"]["chunks"] == killed_at["progress"]["total"]
        assert ready(server.url)["vector_store"]["points"] == sql_chunks_via_api(server.url) \
            == complete_points + again["result"]["chunks"]
        hit = search(server.url, "lighthouse keeper lantern in the fog", chunks=1)[0]
        assert hit["source"] == f"upload://{BIG_NAME}"
        assert_serves_the_documents(server.url)
    finally:
        server.stop()

    final = stored_state(data_dir)
    assert final["points"][final["aliases"]["chunks_active"]] == final["chunk_ids"]  # one vector per chunk row


def test_a_server_killed_during_a_reindex_job_restarts_on_the_same_collection_and_drops_the_half_built_one(
        data_dir, model_b_source):  # noqa: F811  (the fixture imported above)
    from training.registry import ModelRegistry

    candidate = ModelRegistry(data_dir / "models").register(
        model_b_source, base_model="all-MiniLM-L6-v2", metrics={"mrr@10": 0.6},
        gate={"status": "better", "reason": "test", "baseline_metrics": {"mrr@10": 0.5}})
    server = ServerProcess(data_dir, **SETTINGS).start()
    try:
        ingested = wait_for_job(server.url, upload(server.url, {**DOCS, BIG_NAME: big_document()}), ended, 60,
                                "the documents ingested")
        assert ingested["status"] == "done", ingested
        serving = ready(server.url)["vector_store"]
        chunks = sql_chunks_via_api(server.url)
        assert serving["points"] == chunks > 100
        aliases = (data_dir / "qdrant" / "aliases.json").read_text()

        accepted = requests.post(f"{server.url}/api/admin/models/{candidate.version}/promote", headers=ADMIN,
                                 timeout=60)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        killed_at = wait_for_job(server.url, job_id, midway, 45, "the re-index half-way")
        building = killed_at["params"]["collection"]
        assert building != serving["collection"] and killed_at["progress"]["total"] == chunks
        server.kill()

        left = stored_state(data_dir)
        assert left["jobs"][job_id]["status"] == "running"
        assert left["collections"][building] == "building" and building in left["shards"]
        assert 0 < len(left["points"][building]) < chunks  # half-built
        assert left["aliases"]["chunks_active"] == serving["collection"]

        server.start()
        after = ready(server.url)["vector_store"]
        assert after["collection"] == serving["collection"]
        assert after["points"] == chunks == sql_chunks_via_api(server.url)
        assert (data_dir / "qdrant" / "aliases.json").read_text() == aliases  # the alias never moved
        assert_serves_the_documents(server.url)
        job = get_job(server.url, job_id)
        assert job["status"] == "failed" and job["error"].startswith("Interrupted"), job
        assert not (data_dir / "qdrant" / "shards" / building).exists()  # the half-built shard is gone
        log = "".join(server.lines)
        assert f"Job {job_id} was interrupted" in log
        assert f"Removing the half-built collection {building}" in log
        assert ModelRegistry(data_dir / "models").active() is None  # the registry pointer never moved
    finally:
        server.stop()

    final = stored_state(data_dir)
    assert building not in final["collections"] and building not in final["shards"]  # row and folder removed
    assert final["aliases"] == json.loads(aliases)
    assert final["points"][serving["collection"]] == final["chunk_ids"]
