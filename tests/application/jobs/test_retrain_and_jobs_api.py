"""Retraining from the service (API, CLI, policy), uploads as jobs, and the jobs API."""
import io

import pytest

from tests.application.jobs.conftest import ADMIN, OWNER, TOKEN, many_docs, rate_answers, write_docs  # noqa: F401

def test_retrain_from_the_api_registers_a_version_with_its_report(corpus_app):
    client, services = corpus_app
    rate_answers(client, 16)
    stats = client.get("/api/admin/feedback/stats", headers=ADMIN).get_json()
    assert stats["total"] == 16 == stats["likes"] + stats["dislikes"] and len(stats["latest"]) == 16
    assert stats["by_day"][0]["likes"] == stats["likes"] and stats["latest"][0]["sources"]

    # documents added after the ratings: no rated answer retrieved them, yet retrieval is judged over them too
    services.documents.ingest_paths([write_docs(services.settings.data_dir / "later", {
        f"later{i}.txt": f"Later note {i}\n\nThe zq{i}x1 gadget manual was reprinted in edition {i}." for i in range(6)})])
    accepted = client.post("/api/admin/retrain", headers=ADMIN,
                           json={"loss": "mnrl", "epochs": 1, "max_seq_length": 48, "auto_promote": True})
    assert accepted.status_code == 202
    job = client.get(f"/api/jobs/{accepted.get_json()['job_id']}", headers=ADMIN).get_json()

    assert job["kind"] == "retrain" and job["status"] == "done", job
    result = job["result"]
    # 16 rated answers put a handful of questions in the frozen evaluation set: fewer than GATE_MIN_QUESTIONS
    # (30), so however it scored, the candidate is "not enough evidence" and auto_promote does nothing
    assert result["version"] == "v0001" and result["verdict"] == "not_enough_evidence", result["reason"]
    assert result["gate"]["questions"] < 30 and result["gate"]["needed_questions"] == 30 - result["gate"]["questions"]
    assert set(result["metrics"]) == {"candidate", "baseline"} and "mrr@10" in result["metrics"]["candidate"]
    report = client.get(result["report_url"], headers=ADMIN)
    assert report.status_code == 200 and report.mimetype == "text/markdown"
    # judged over every stored chunk, not only the ones the rated answers retrieved (3 per answer)
    assert f"held-out questions, {services.documents.chunk_count()} chunks" in report.get_data(as_text=True)
    # pipeline against pipeline: the candidate's fitted weight is recorded with the version
    assert result["retrieval"]["mode"] == "hybrid" and 0 <= result["retrieval"]["weight"] <= 1
    assert "lexical (bm25-en)" in report.get_data(as_text=True)
    assert client.get(result["plot_url"], headers=ADMIN).mimetype == "image/png"
    overview = client.get("/api/admin/models", headers=ADMIN).get_json()
    assert result["promote_job_id"] is None and overview["serving"]["version"] is None
    assert overview["versions"][0]["status"] == "rejected" and overview["versions"][0]["gate"]["verdict"] == "not_enough_evidence"


def test_retrain_without_feedback_fails_with_the_reason_and_bad_options_are_refused(corpus_app):
    client, services = corpus_app
    assert client.post("/api/admin/retrain", headers=ADMIN, json={"loss": "magic"}).status_code == 400
    assert client.post("/api/admin/retrain", headers=ADMIN, json={"epochs": 0}).status_code == 400
    assert client.post("/api/admin/retrain", headers=ADMIN, json={"auto_promote": "yes"}).status_code == 400

    job_id = client.post("/api/admin/retrain", headers=ADMIN, json={}).get_json()["job_id"]

    job = client.get(f"/api/jobs/{job_id}", headers=ADMIN).get_json()
    assert job["status"] == "failed" and "No rated messages yet" in job["error"]


@pytest.mark.parametrize("corpus_app", ["off"], indirect=True)
def test_the_retrain_policy_starts_a_retrain_once_enough_new_messages_are_rated(corpus_app):
    client, services = corpus_app
    runtime = services.jobs
    periodic = [t.__name__ for t in runtime.huey._registry._periodic_tasks]  # scheduled by the consumer
    assert any(name.endswith("docstune.retrain_policy") for name in periodic)
    rate_answers(client, 2)
    assert runtime.check_retrain_policy() is None  # 2 < RETRAIN_MIN_NEW_FEEDBACK=3

    rate_answers(client, 3)
    started = runtime.check_retrain_policy()

    assert started is not None and started["kind"] == "retrain" and started["status"] == "queued"
    assert runtime.check_retrain_policy() is None  # one at a time
    runtime.store.request_cancel(started["id"])
    assert runtime.new_rated_messages() == 0  # counted from the last retrain on


@pytest.mark.parametrize("corpus_app", ["thread"], indirect=True)
def test_an_upload_is_an_ingest_job_visible_in_the_jobs_api(corpus_app):
    client, services = corpus_app
    data = {"file": [(io.BytesIO(b"# Heron\n\nThe heron of pond seven eats frogs at dawn.\n"), "heron.md")]}

    accepted = client.post("/api/upload", data=data, headers=ADMIN, content_type="multipart/form-data")

    assert accepted.status_code == 202
    body = accepted.get_json()
    assert body["task_id"] == body["job_id"] and body["files"] == ["heron.md"]
    job = services.jobs.store.wait(body["job_id"], timeout=60)
    assert job["kind"] == "ingest" and job["status"] == "done" and job["result"]["added"] == ["heron.md"]
    task = client.get(f"/api/task_status?task_id={body['job_id']}", headers=ADMIN).get_json()
    assert task["status"] == "SUCCESS" and task["progress"]["percent"] == 100.0
    listed = client.get("/api/jobs?kind=ingest&limit=5", headers=ADMIN).get_json()["jobs"]
    assert listed[0]["id"] == body["job_id"]
    assert set(listed[0]) >= {"id", "kind", "status", "progress", "created_at", "started_at", "finished_at",
                              "error", "result", "params"}
    assert client.get("/api/jobs/nope", headers=ADMIN).status_code == 404
    assert client.post(f"/api/jobs/{body['job_id']}/cancel", headers=ADMIN).status_code == 409
    assert client.get("/api/jobs?limit=0", headers=ADMIN).status_code == 400
    assert client.get("/api/jobs").status_code == 401


@pytest.mark.parametrize("corpus_app", ["thread"], indirect=True)
def test_a_running_retrain_reports_the_training_steps(corpus_app):
    import re
    import time

    client, services = corpus_app
    rate_answers(client, 12)
    job_id = client.post("/api/admin/retrain", headers=ADMIN,
                         json={"loss": "mnrl", "epochs": 2, "max_seq_length": 32}).get_json()["job_id"]
    seen, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=ADMIN).get_json()
        if job["progress"]["message"] and (not seen or seen[-1] != job["progress"]):
            seen.append(job["progress"])
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    steps = [p for p in seen if re.search(r"training mnrl on \d+ rows: step \d+ of \d+", p["message"])]
    assert steps, seen  # inside the training, not one "2/5 training" for the whole run
    assert all(p["done"] <= p["total"] for p in steps) and steps[-1]["done"] == steps[-1]["total"]


def test_a_retrain_reads_the_ratings_once_in_memory_and_grows_the_evaluation_set_once(corpus_app, monkeypatch):
    import training.feedback
    from application.db.evaluation_set import load_evaluation_set
    from training.evaluation_set import EvaluationSet

    client, services = corpus_app
    rate_answers(client, 8)
    files_read, growths = [], []
    read_file, grow = training.feedback.read_feedback_jsonl, EvaluationSet.grown
    monkeypatch.setattr(training.feedback, "read_feedback_jsonl", lambda path: files_read.append(path) or read_file(path))
    monkeypatch.setattr(EvaluationSet, "grown", lambda self, *a, **k: growths.append(1) or grow(self, *a, **k))

    job_id = client.post("/api/admin/retrain", headers=ADMIN,
                         json={"loss": "mnrl", "epochs": 1, "max_seq_length": 32}).get_json()["job_id"]

    job = client.get(f"/api/jobs/{job_id}", headers=ADMIN).get_json()
    assert job["status"] == "done", job
    assert files_read == [] and len(growths) == 1  # the ratings come from SQL as records, not through a JSONL file
    stored = load_evaluation_set(services.db)
    assert job["result"]["evaluation_set"]["questions"] == len(stored) > 0
    assert job["result"]["data"]["evaluation_added"] == len(stored)  # the first retrain added every question it holds
