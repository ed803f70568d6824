"""The frozen evaluation set through the API, the gate's verdicts in the retrain job, and one assembly of a run."""
import json

import pytest
from click.testing import CliRunner

from tests.application.jobs.conftest import ADMIN, rate_answers

# half the chunks judge: a few dozen rated answers give enough evaluation questions for a verdict
SHARED = {"EVALUATION_SHARE": 0.5}


def job_of(client, response):
    assert response.status_code == 202, response.get_json()
    return client.get(f"/api/jobs/{response.get_json()['job_id']}", headers=ADMIN).get_json()


@pytest.mark.parametrize("corpus_app", [SHARED], indirect=True)
def test_the_evaluation_set_is_assigned_once_only_grows_and_goes_out_and_in_as_ir_json(corpus_app):
    client, services = corpus_app
    empty = client.get("/api/admin/evaluation", headers=ADMIN).get_json()
    assert empty["questions"] == 0 and empty["serving"] is None
    assert job_of(client, client.post("/api/admin/evaluate", headers=ADMIN))["status"] == "failed"

    rate_answers(client, 10)
    measured = job_of(client, client.post("/api/admin/evaluate", headers=ADMIN))
    assert measured["status"] == "done", measured["error"]
    first = client.get("/api/admin/evaluation", headers=ADMIN).get_json()
    assert 0 < first["questions"] < 10 and first["feedback"] == first["questions"]
    serving = first["serving"]
    assert serving["current"] and serving["questions"] == first["questions"] and 0 <= serving["metrics"]["mrr@10"] <= 1
    assert client.get("/api/admin/models", headers=ADMIN).get_json()["evaluation"]["fingerprint"] == first["fingerprint"]

    exported = client.get("/api/admin/evaluation/export", headers=ADMIN)
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    ir = json.loads(exported.get_data())
    assert len(ir["queries"]) == first["questions"] and len(ir["corpus"]) == services.documents.chunk_count()
    asked = {q for q in ir["queries"].values()}

    rate_answers(client, 16)  # the first 10 again (same questions, new messages) and 6 new ones
    job_of(client, client.post("/api/admin/evaluate", headers=ADMIN))
    grown = client.get("/api/admin/evaluation", headers=ADMIN).get_json()
    assert grown["questions"] >= first["questions"]
    again = json.loads(client.get("/api/admin/evaluation/export", headers=ADMIN).get_data())
    assert asked <= set(again["queries"].values())  # nothing left the set

    # a question written by hand, pointing at a chunk by its exact text (another chunking's ids mean nothing here)
    some_chunk = next(iter(ir["corpus"].values()))
    imported = client.post("/api/admin/evaluation/import", headers=ADMIN, json={
        "queries": {"h1": "A question an admin wrote by hand?", "h2": "About nothing stored?"},
        "corpus": {"elsewhere-1": some_chunk, "elsewhere-2": "text that is not stored"},
        "relevant_docs": {"h1": ["elsewhere-1"], "h2": ["elsewhere-2"]}}).get_json()
    assert imported == {"added": 1, "already_there": 0, "unmatched": 1, "questions": grown["questions"] + 1,
                        "answers": 0}
    after = client.get("/api/admin/evaluation", headers=ADMIN).get_json()
    assert after["import"] == 1 and not after["serving"]["current"]  # measured on an earlier state of the set

    bad = client.post("/api/admin/evaluation/import", headers=ADMIN, json={"queries": {}})
    assert bad.status_code == 400 and "missing key" in bad.get_json()["error"]
    none = client.post("/api/admin/evaluation/import", headers=ADMIN, json={
        "queries": {"x": "q"}, "corpus": {"c": "not stored"}, "relevant_docs": {"x": ["c"]}})
    assert none.status_code == 400 and "ingest the documents first" in none.get_json()["error"]
    assert client.get("/api/admin/evaluation", headers=ADMIN).get_json()["questions"] == after["questions"]
    assert client.post("/api/admin/evaluate", headers=ADMIN, json={"x": 1}).status_code == 400
    assert client.get("/api/admin/evaluation").status_code == 401


@pytest.mark.parametrize("corpus_app", [SHARED], indirect=True)
def test_the_evalset_commands_show_export_and_import(corpus_app, tmp_path, monkeypatch):
    from application.cli import main

    client, services = corpus_app
    rate_answers(client, 8)
    assert job_of(client, client.post("/api/admin/evaluate", headers=ADMIN))["status"] == "done"
    monkeypatch.setenv("DATA_DIR", str(services.settings.data_dir))
    from application.settings import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    shown = json.loads(runner.invoke(main, ["evalset", "show"], catch_exceptions=False).output)
    assert shown["questions"] >= 1 and shown["serving"]["current"]
    out = tmp_path / "eval.json"
    exported = runner.invoke(main, ["evalset", "export", str(out)], catch_exceptions=False)
    assert exported.exit_code == 0 and f"Wrote {shown['questions']} evaluation questions" in exported.output
    ir = json.loads(out.read_text())
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps({"queries": {"m": "Which note is this?"}, "corpus": ir["corpus"],
                                "relevant_docs": {"m": [next(iter(ir["corpus"]))]}}))
    added = runner.invoke(main, ["evalset", "import", str(mine)], catch_exceptions=False)
    assert added.exit_code == 0 and "Added 1 questions" in added.output
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused = runner.invoke(main, ["evalset", "import", str(bad)])
    assert refused.exit_code == 1 and "Error:" in refused.output and "Traceback" not in refused.output
    assert json.loads(runner.invoke(main, ["evalset", "show"]).output)["questions"] == shown["questions"] + 1


@pytest.mark.parametrize("corpus_app", [{**SHARED, "RETRIEVAL_MODE": "dense", "GATE_MIN_QUESTIONS": 3}], indirect=True)
def test_a_candidate_worse_on_the_frozen_set_is_never_promoted(corpus_app):
    client, services = corpus_app
    rate_answers(client, 24)
    # a learning rate that wrecks the model: it must lose on the evaluation questions, and stay unpromoted
    job = job_of(client, client.post("/api/admin/retrain", headers=ADMIN, json={
        "loss": "mnrl", "epochs": 2, "learning_rate": 0.05, "max_seq_length": 48, "auto_promote": True}))
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert result["verdict"] == "worse", (result["reason"], result["gate"])
    assert result["gate"]["interval"][1] < 0 and result["gate"]["losses"] > result["gate"]["wins"]
    assert result["promote_job_id"] is None and result["plan"]["learning_rate"] == 0.05
    overview = client.get("/api/admin/models", headers=ADMIN).get_json()
    assert overview["serving"]["version"] is None and overview["versions"][0]["status"] == "rejected"
    assert overview["versions"][0]["gate"]["evaluation_set"]["fingerprint"] == overview["evaluation"]["fingerprint"]
    # the serving pipeline was measured on the same frozen set
    assert overview["evaluation"]["serving"]["current"]
    forced = client.post(f"/api/admin/models/{result['version']}/promote", headers=ADMIN)
    assert forced.status_code == 409 and "rejected by the evaluation gate" in forced.get_json()["error"]


@pytest.mark.parametrize("corpus_app", [SHARED], indirect=True)
def test_the_cli_and_the_job_assemble_the_same_run_for_the_same_data(corpus_app, tmp_path, monkeypatch):
    from application.cli import main

    client, services = corpus_app
    rate_answers(client, 12)
    feedback = tmp_path / "feedback.jsonl"
    feedback.write_bytes(client.get("/api/feedback/export", headers=ADMIN).get_data())

    # the CLI's `train --from-feedback` adds no synthetic questions: the job is asked for none either
    job = job_of(client, client.post("/api/admin/retrain", headers=ADMIN, json={"epochs": 1, "include_synthetic": False}))
    assert job["status"] == "done", job["error"]
    by_job = job["result"]

    from application.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("EVALUATION_SHARE", str(SHARED["EVALUATION_SHARE"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    get_settings.cache_clear()  # the CLI reads the settings of this deployment, not an earlier test's
    try:
        out = CliRunner().invoke(main, ["train", "--from-feedback", str(feedback), "--epochs", "1"],
                                 catch_exceptions=False)
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 0, out.output
    by_cli = json.loads((services.settings.models_dir / "v0002" / "version.json").read_text())

    plan = {k: v for k, v in by_job["plan"].items()
            if k not in ("show_progress", "device", "include_synthetic", "synthetic_chunks")}
    assert plan["loss"] == "mnrl" and plan["epochs"] == 1 and plan["learning_rate"] == 5e-5  # FEEDBACK_DEFAULTS
    assert {k: by_cli["training"][k] for k in plan} == plan
    for key in ("train_questions", "held_out_questions", "pairs", "evaluation_set"):
        assert by_cli["data_stats"][key] == by_job["data"][key], key
    assert by_cli["gate"]["questions"] == by_job["gate"]["questions"]
