"""The admin API of swaps: list models, promote (a re-index job), roll back at once, and every refusal."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import write_docs

TOKEN = "swap-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def admin_client(make_services, docs_dir, request):
    from application import create_app
    from application.api import close_app

    mode = getattr(request, "param", "immediate")
    services = make_services(JOBS_WORKER=mode, ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive")
    services.documents.ingest_paths([docs_dir])
    app = create_app(services.settings, services=services)
    yield app.test_client(), services
    close_app(app)


def _register_b(services, model_b, verdict="better"):
    from training.registry import ModelRegistry

    return ModelRegistry(services.settings.models_dir).register(
        model_b, base_model="all-MiniLM-L6-v2", gate={"status": verdict, "reason": f"test says {verdict}",
                                                       "baseline_metrics": {"mrr@10": 0.5}},
        metrics={"mrr@10": 0.6 if verdict == "better" else 0.4})


def test_promote_reindexes_switches_and_moves_the_registry_pointer_then_rollback_goes_back_at_once(
    admin_client, model_b
):
    client, services = admin_client
    version = _register_b(services, model_b)
    before = client.get("/api/admin/models", headers=ADMIN).get_json()
    assert before["serving"]["version"] is None and before["pending"] is None
    assert before["versions"][0]["version"] == version.version and before["versions"][0]["status"] == "candidate"
    gate = before["versions"][0]["gate"]
    assert (gate["verdict"], gate["reason"]) == ("better", "test says better")
    assert before["versions"][0]["metrics"]["baseline"] == {"mrr@10": 0.5}

    accepted = client.post(f"/api/admin/models/{version.version}/promote", headers=ADMIN)
    assert accepted.status_code == 202, accepted.get_json()
    job = client.get(f"/api/jobs/{accepted.get_json()['job_id']}", headers=ADMIN).get_json()
    assert job["kind"] == "promote" and job["status"] == "done", job

    after = client.get("/api/admin/models", headers=ADMIN).get_json()
    assert after["serving"]["version"] == version.version
    assert after["serving"]["fingerprint"] == version.fingerprint
    assert after["serving"]["collection"] == services.vector_store.alias_target()
    assert after["versions"][0]["status"] == "active"
    hits = client.post("/api/search", json={"question": "refund within 30 days", "chunks": 1}).get_json()
    assert hits[0]["title"] == "Refund policy"

    rolled = client.post("/api/admin/models/rollback", headers=ADMIN)
    assert rolled.status_code == 200
    assert rolled.get_json()["serving"]["collection"] == before["serving"]["collection"]
    assert services.vector_store.alias_target() == before["serving"]["collection"]
    from training.registry import ModelRegistry

    assert ModelRegistry(services.settings.models_dir).active() is None
    jobs = client.get("/api/jobs?kind=promote", headers=ADMIN).get_json()["jobs"]
    assert len(jobs) == 1  # the rollback embedded nothing: no job


@pytest.mark.parametrize("admin_client", ["thread"], indirect=True)
def test_promote_on_the_in_process_worker_reports_pending_then_serves(admin_client, model_b):
    client, services = admin_client
    version = _register_b(services, model_b)
    job_id = client.post(f"/api/admin/models/{version.version}/promote", headers=ADMIN).get_json()["job_id"]
    pending = client.get("/api/admin/models", headers=ADMIN).get_json()["pending"]
    assert pending is None or pending["job_id"] == job_id  # it may already be done

    done = services.jobs.store.wait(job_id, timeout=120)

    assert done["status"] == "done"
    assert client.get("/api/admin/models", headers=ADMIN).get_json()["serving"]["version"] == version.version


def test_bad_promotions_are_refused_with_a_reason_and_serving_is_unchanged(admin_client, model_b, tmp_path):
    import shutil

    client, services = admin_client
    serving = services.serving.info()
    rejected = _register_b(services, model_b, verdict="rejected")
    lost = _register_b(services, model_b)
    shutil.rmtree(lost.model_path)

    cases = [
        ("/api/admin/models/v0099/promote", 404, "Unknown model version"),
        (f"/api/admin/models/{rejected.version}/promote", 409, "rejected by the evaluation gate"),
        (f"/api/admin/models/{lost.version}/promote", 409, "missing on disk"),
        ("/api/admin/models/rollback", 409, "Nothing to roll back to"),
    ]
    for url, status, reason in cases:
        response = client.post(url, headers=ADMIN)
        assert response.status_code == status, (url, response.get_json())
        assert reason in response.get_json()["error"]

    # a swap already queued: a second one waits its turn
    services.jobs.store.create("reindex", {"model": "all-MiniLM-L6-v2"})
    good = _register_b(services, Path(rejected.model_path))
    response = client.post(f"/api/admin/models/{good.version}/promote", headers=ADMIN)
    assert response.status_code == 409 and "already queued" in response.get_json()["error"]

    assert services.serving.info() == serving
    assert client.post("/api/admin/models/v0001/promote").status_code == 401


def test_reports_and_plots_of_a_version_are_served(admin_client, model_b, tmp_path):
    from training.registry import ModelRegistry

    client, services = admin_client
    report, plot = tmp_path / "report.md", tmp_path / "hit_rate.png"
    report.write_text("# Evaluation\n\nbetter\n")
    plot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 16)
    version = ModelRegistry(services.settings.models_dir).register(
        model_b, base_model="x", files={"report": report, "plot": plot})

    md = client.get(f"/api/admin/models/{version.version}/report", headers=ADMIN)
    png = client.get(f"/api/admin/models/{version.version}/plot.png", headers=ADMIN)

    assert md.status_code == 200 and md.mimetype == "text/markdown" and b"# Evaluation" in md.data
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    listed = client.get("/api/admin/models", headers=ADMIN).get_json()["versions"][0]
    assert listed["report_url"] == f"/api/admin/models/{version.version}/report"
    assert client.get("/api/admin/models/v0042/report", headers=ADMIN).status_code == 404


def test_stream_answers_503_with_a_clear_message_when_no_collection_can_serve(make_settings, docs_dir):
    import shutil

    from application import create_app
    from application.api import close_app
    from application.container import DocsTune

    settings = make_settings(ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive",
                             JOBS_WORKER="off")
    first = DocsTune(settings)
    first.documents.ingest_paths([docs_dir])
    first.close()
    shutil.rmtree(settings.qdrant_path_resolved)
    app = create_app(settings)
    try:
        response = app.test_client().post("/stream", json={"question": "refunds?"})
        assert response.status_code == 503
        assert "no vector index serves them" in response.get_json()["error"]
    finally:
        close_app(app)


KILL_SCRIPT = """
import sys
from application.container import DocsTune
from application.settings import Settings
services = DocsTune(Settings())
job = services.jobs.store.create("reindex", {"model": sys.argv[1]})
print("JOB", job["id"], flush=True)
services.jobs.run(job["id"])
"""


def test_killing_the_process_mid_reindex_leaves_the_old_collection_serving_and_cleans_up(
    make_settings, tmp_path, model_b
):
    from application.jobs.store import JobStore
    from application.container import DocsTune
    from tests.application.jobs.conftest import many_docs

    settings = make_settings(JOBS_WORKER="off", INGEST_BATCH_SIZE=4)
    first = DocsTune(settings)
    first.documents.ingest_paths([write_docs(tmp_path / "many", many_docs(80))])
    serving = first.serving.current.collection
    first.close()
    registry_file = settings.models_dir / "active.json"

    env = {**os.environ, "DATA_DIR": str(settings.data_dir), "JOBS_WORKER": "off", "INGEST_BATCH_SIZE": "4"}
    child = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(model_b)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True)
    job_id = child.stdout.readline().split()[1]
    store = JobStore(_database(settings))
    deadline = time.monotonic() + 120
    while store.get(job_id)["progress"]["done"] < 8:
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert store.get(job_id)["status"] == "running"  # what the dead process left behind

    services = DocsTune(settings)
    try:
        services.jobs.start_worker()
        job = services.jobs.store.get(job_id)
        assert job["status"] == "failed" and "Interrupted" in job["error"]
        assert services.serving.current.collection == serving == services.vector_store.alias_target()
        assert services.vector_store.list_collections() == [serving]  # the half-built one is gone
        assert not registry_file.exists()
        assert services.serving.search("zq3x1 gadget", k=1)[0].title == "note003"
    finally:
        services.close()


def _database(settings):
    from application.db import Database

    return Database(settings.database_url_resolved)
