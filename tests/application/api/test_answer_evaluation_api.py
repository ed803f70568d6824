"""Admin: answer evaluation as a job over HTTP: an uploaded IR JSON (with reference answers) answered by two
pipelines with the offline extractive answerer, its summary and its report; the frozen evaluation set, empty
(the job fails and says what to do) and then filled; and the refusals."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.application.api.conftest import ADMIN_TOKEN
from tests.conftest import write_docs

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ROUTE = "/api/admin/answer-evaluations"

# a set over its own corpus (the evaluation retrieves in memory over the set's corpus, not the stored chunks)
HARBOUR = {
    "queries": {"q1": "When does the harbour bakery open?", "q2": "How many steps does the lighthouse keeper climb?",
                "q3": "What does the ferry cost?"},
    "corpus": {"c1": "The harbour bakery opens at six in the morning and sells rye bread.",
               "c2": "The lighthouse keeper climbs 212 steps to reach the lamp every evening.",
               "c3": "The ferry to the island costs four euros; children travel free.",
               "c4": "The museum is closed on Mondays."},
    "relevant_docs": {"q1": ["c1"], "q2": ["c2"], "q3": ["c3"]},
    "answers": {"q1": "It opens at six in the morning.", "q2": "212 steps.", "q3": "Four euros; children are free."},
}


@pytest.fixture(scope="module")
def evaluation_app(tmp_path_factory):
    """An app on its own container (the job runtime is the container's: ``JOBS_WORKER=immediate`` runs each job
    within its request), no document stored yet and an empty frozen evaluation set."""
    from application import create_app
    from application.api import close_app
    from application.container import DocsTune
    from application.settings import Settings

    services = DocsTune(Settings(DATA_DIR=tmp_path_factory.mktemp("answer-evaluation") / "data", ADMIN_TOKEN=ADMIN_TOKEN,
                                 RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive", ANTHROPIC_API_KEY="",
                                 JOBS_WORKER="immediate"))
    app = create_app(services.settings, services=services)
    app.config["TESTING"] = True
    yield app.test_client(), services
    close_app(app)
    services.close()


def accepted_job(client, response) -> dict:
    assert response.status_code == 202, response.get_json()
    return client.get(f"/api/jobs/{response.get_json()['job_id']}", headers=ADMIN).get_json()


def test_an_uploaded_set_is_answered_by_each_pipeline_and_reported(evaluation_app):
    client, services = evaluation_app

    job = accepted_job(client, client.post(ROUTE, headers=ADMIN, json={
        "dataset": HARBOUR, "dataset_name": "harbour.json", "reference": "auto", "users": 250, "questions_per_day": 4,
        "configs": [{"name": "serving"}, {"name": "dense-2", "mode": "dense", "k": 2}]}))

    assert job["kind"] == "evaluate_answers" and job["status"] == "done", job["error"]
    assert "corpus" not in json.dumps(job["params"])  # the upload waits in a file, not in the job's row
    summary = job["result"]
    assert summary["dataset"] == "harbour.json" and summary["questions"] == 3
    assert summary["reference"] == "answers" and summary["similarity_method"]
    assert summary["judge"] is None and "ANTHROPIC_API_KEY" in summary["judge_note"]  # no judge configured
    assert summary["traffic"] == {"users": 250, "questions_per_day": 4} and summary["interrupted"] is False
    assert [c["name"] for c in summary["configs"]] == ["serving", "dense-2"]
    for config in summary["configs"]:
        assert config["questions"] == 3 and config["answered"] == 3 and config["errors"] == 0, config
        assert config["judge_score"] is None and config["judged"] == 0
        assert 0 < config["similarity"] <= 1
        assert 0 < config["latency"]["full_p50"] <= config["latency"]["full_p95"]
        assert config["cost_per_question"] == 0 and config["monthly_cost"] == 0  # the extractive answerer is free
    assert summary["configs"][1]["spec"]["mode"] == "dense" and summary["configs"][1]["spec"]["k"] == 2

    out_dir = Path(summary["files"]["report"]).parent
    assert out_dir == (services.settings.data_dir / "answer-evaluations" / job["id"]).resolve()
    assert json.loads((out_dir / "dataset.json").read_text())["answers"] == HARBOUR["answers"]
    assert not Path(job["params"]["dataset_file"]).exists()  # the staged upload moved beside its results

    report = client.get(summary["report_url"], headers=ADMIN)
    assert report.status_code == 200 and report.mimetype == "text/markdown"
    assert report.get_data(as_text=True) == Path(summary["files"]["report"]).read_text()
    assert "dense-2" in report.get_data(as_text=True)
    assert client.get(summary["report_url"]).status_code == 401


@pytest.mark.parametrize(("body", "error"), [
    ({"configs": [{"name": "a"}, {"name": "a"}]}, "'configs' names 'a' twice"),
    ({"configs": [{"name": "two words"}]}, "use 1-40 letters, digits"),
    ({"configs": []}, "'configs'"),
    ({"configs": [{"name": f"c{i}"} for i in range(7)]}, "'configs'"),
    ({"configs": [{"name": "a", "mode": "dense", "weight": 0.3}]}, "a dense pipeline has one leg"),
    ({"configs": [{"name": "a", "weight": 1.5}]}, "'configs[0].weight'"),
    ({"configs": [{"name": "a", "k": 21}]}, "'configs[0].k' must be a whole number from 1 to 20"),
    ({"configs": [{"name": "a", "model": "v0042"}]}, "'configs[0].model': no model version 'v0042'"),
    ({"configs": [{"name": "a", "model": "/etc"}]}, "'configs[0].model'"),
    ({"configs": [{"name": "a", "llm": "anthropic"}]}, "'configs[0].llm'"),
    ({"reference": "gold"}, "'reference' must be 'auto', 'answers', 'relevant-chunk' or 'none'"),
    ({"users": 0}, "'users' must be a whole number from 1"),
    ({"dataset": "latest"}, "'dataset' must be \"frozen\""),
    ({"dataset": {"queries": {"q": "?"}}}, "missing key(s) corpus, relevant_docs"),
    ({"dataset": {**HARBOUR, "relevant_docs": {"q1": ["c9"]}}}, "not in the corpus"),
    ({"surprise": 1}, "'surprise'"),
])
def test_a_bad_request_is_a_400_that_says_what_is_wrong_and_starts_nothing(evaluation_app, body, error):
    client, _ = evaluation_app
    before = client.get("/api/jobs?kind=evaluate_answers", headers=ADMIN).get_json()["jobs"]

    response = client.post(ROUTE, headers=ADMIN, json=body)

    assert response.status_code == 400 and error in response.get_json()["error"], response.get_json()
    assert client.get("/api/jobs?kind=evaluate_answers", headers=ADMIN).get_json()["jobs"] == before
    assert client.post(ROUTE, json={}).status_code == 401


def test_the_report_of_an_unknown_job_or_of_another_kind_is_a_404(evaluation_app):
    client, _ = evaluation_app
    other = client.post("/api/admin/evaluate", headers=ADMIN).get_json()["job_id"]

    for job_id, error in [("no-such-job", "No job 'no-such-job'"),
                          (other, "is not an answer evaluation (its kind is 'evaluate')")]:
        response = client.get(f"{ROUTE}/{job_id}/report", headers=ADMIN)
        assert response.status_code == 404 and error in response.get_json()["error"], (job_id, response.get_json())


def test_the_frozen_set_when_empty_fails_the_job_with_what_to_do_and_once_filled_is_answered(evaluation_app, tmp_path):
    client, services = evaluation_app
    empty = accepted_job(client, client.post(ROUTE, headers=ADMIN))
    assert empty["status"] == "failed"
    assert empty["error"].startswith("The frozen evaluation set is empty") and "import questions" in empty["error"]
    response = client.get(f"{ROUTE}/{empty['id']}/report", headers=ADMIN)
    assert response.status_code == 404 and "is failed: it has no report" in response.get_json()["error"]

    services.documents.ingest_paths([write_docs(tmp_path / "docs")])
    corpus = json.loads(client.get("/api/admin/evaluation/export", headers=ADMIN).get_data())["corpus"]
    refunds = next(cid for cid, text in corpus.items() if "full refund within 30 days" in text)
    shipping = next(cid for cid, text in corpus.items() if "Express shipping costs" in text)
    imported = client.post("/api/admin/evaluation/import", headers=ADMIN, json={
        "queries": {"r": "How long do I have to ask for a refund?", "s": "What does express shipping cost?"},
        "corpus": corpus, "relevant_docs": {"r": [refunds], "s": [shipping]}}).get_json()
    assert imported["added"] == 2, imported

    job = accepted_job(client, client.post(ROUTE, headers=ADMIN, json={
        "dataset": "frozen", "reference": "relevant-chunk", "limit": 1,
        "configs": [{"name": "hybrid", "mode": "hybrid", "weight": 0.5, "k": 2}]}))
    assert job["status"] == "done", job["error"]
    summary = job["result"]
    assert summary["dataset"] == "the frozen evaluation set" and summary["questions"] == 1
    assert summary["reference"] == "relevant-chunk"
    [hybrid] = summary["configs"]
    assert hybrid["answered"] == 1 and hybrid["spec"]["weight"] == 0.5 and hybrid["similarity"] > 0
    assert client.get(summary["report_url"], headers=ADMIN).status_code == 200
