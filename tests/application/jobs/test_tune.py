"""The fusion weight learned from feedback: the tune job through the API and the CLI, and model and
weight moving together on promote and rollback."""
import pytest

from tests.application.jobs.conftest import write_docs
from tests.application.swap.conftest import model_b, model_b_source  # noqa: F401  (fixtures)

TOKEN = "tune-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OWNER = {"X-Owner-Token": "a-person-who-rates-answers"}
DOCS = 40  # two rated questions each: a held-out fifth of the chunks leaves 16 questions to fit on
# each case note is about one of five problems; a question names its case by code but describes the
# problem of *another* note in other words: the dense leg is drawn to the wrong notes, only the
# lexical leg matches the code, so a dense-heavy weight ranks badly and the fit must lower it
PROBLEMS = [
    "The invoice was paid late and a fee was charged to the customer account.",
    "The laptop screen flickers after the latest driver update on startup.",
    "The parcel was delivered to the wrong address by the courier yesterday.",
    "The password reset e-mail never arrived in the user's inbox.",
    "The meeting room projector has no HDMI cable and the remote is missing.",
]
PARAPHRASES = ["billing penalty for a overdue payment", "display flickering since the graphics update",
               "package shipped to an incorrect location", "reset link email not received",
               "conference beamer cable gone"]


def code(i: int) -> str:
    return f"qv{i}k{i * 7}"


def case_notes() -> dict[str, str]:
    return {f"case{i:03d}.txt": f"Note {code(i)}\n\n{PROBLEMS[i % 5]} Logged under {code(i)}." for i in range(DOCS)}


@pytest.fixture
def tune_app(make_services, tmp_path):
    from application import create_app
    from application.api import close_app

    # the gate decides whether a fitted weight is stored: these few questions need a lower minimum
    services = make_services(JOBS_WORKER="immediate", ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False,
                             LLM_PROVIDER="extractive", GATE_MIN_QUESTIONS=10)
    services.documents.ingest_paths([write_docs(tmp_path / "corpus", case_notes())])
    app = create_app(services.settings, services=services)
    yield app.test_client(), services
    close_app(app)


def rate(client, question: str, needle: str) -> dict:
    body = client.post("/api/answer", headers=OWNER, json={"question": question, "chunks": 3}).get_json()
    marks = {s["chunk_id"]: ("relevant" if needle in s["text"] else "irrelevant") for s in body["sources"]}
    response = client.post("/api/feedback", headers=OWNER, json={
        "message_id": body["message_id"], "feedback": "like" if "relevant" in marks.values() else "dislike",
        "sources": marks})
    assert response.status_code == 200, response.get_json()
    return body


def rate_all(client) -> None:
    for i in range(DOCS):
        rate(client, f"Case {code(i)}: {PARAPHRASES[(i + 1) % 5]}?", code(i))
        rate(client, f"What was logged for case {code(i)}?", code(i))


def dense_heavy(services, weight=0.95) -> dict:
    """A poor weight fitted earlier (as if from other questions): most of the share on the dense leg."""
    record = {"weight": weight, "method": "convex", "normalise": "minmax", "mode": "hybrid",
              "origin": "an earlier fit", "fitted_at": "2026-01-01T00:00:00+00:00"}
    services.serving.set_tuned_fusion(services.serving.current.collection, record)
    return record


def test_a_tune_fits_the_weight_on_rated_questions_and_it_serves_at_once(tune_app):
    client, services = tune_app
    rate_all(client)
    dense_heavy(services)
    before = client.get("/api/admin/models", headers=ADMIN).get_json()["serving"]["retrieval"]
    assert before["weight"] == 0.95 and before["weight_source"] == "fitted" and before["running"].startswith("hybrid")

    accepted = client.post("/api/admin/tune", headers=ADMIN)
    assert accepted.status_code == 202
    job = client.get(f"/api/jobs/{accepted.get_json()['job_id']}", headers=ADMIN).get_json()
    assert job["kind"] == "tune" and job["status"] == "done", job
    result = job["result"]
    # the questions name codes only the lexical leg matches: the dense share must come down, and the
    # fitted weight does better on questions it was not fitted on
    assert result["stored"] and result["weight"] < 0.95 and result["previous_weight"] == 0.95
    assert result["verdict"] == "better", result["reason"]
    assert result["questions"] >= 10 and result["cross_fitted"]["mrr@10"] > result["baseline"]["mrr@10"] + 0.1
    assert set(result["curve"]) >= {"0", "0.5", "1"}

    serving = client.get("/api/admin/models", headers=ADMIN).get_json()["serving"]["retrieval"]
    assert serving["weight"] == result["weight"] and serving["weight_source"] == "fitted"
    assert "docstune tune" in serving["weight_detail"] and serving["fitted"]["questions"] == result["questions"]
    # the chat records the pipeline it answered with: the fitted weight
    message = client.post("/api/answer", headers=OWNER, json={"question": f"What was logged for case {code(7)}?"})
    conversation = client.get(f"/api/conversations/{message.get_json()['conversation_id']}", headers=OWNER)
    assert conversation.get_json()["messages"][-1]["retrieval"]["weight"] == result["weight"]


def test_a_tune_without_enough_ratings_fails_with_the_reason_and_changes_nothing(tune_app):
    client, services = tune_app
    job = client.get(f"/api/jobs/{client.post('/api/admin/tune', headers=ADMIN).get_json()['job_id']}",
                     headers=ADMIN).get_json()
    assert job["status"] == "failed" and "No rated messages yet" in job["error"]
    for i in range(6):  # a few ratings: too few held-out questions to fit a weight on
        rate(client, f"What was logged for case {code(i)}?", code(i))
    job = client.get(f"/api/jobs/{client.post('/api/admin/tune', headers=ADMIN).get_json()['job_id']}",
                     headers=ADMIN).get_json()
    assert job["status"] == "failed" and "at least 10" in job["error"], job["error"]
    serving = client.get("/api/admin/models", headers=ADMIN).get_json()["serving"]["retrieval"]
    assert serving["weight_source"] == "default" and serving["weight"] == 0.5
    refused = client.post("/api/admin/tune", headers=ADMIN, json={"weight": 0.3})
    assert refused.status_code == 400 and "takes none" in refused.get_json()["error"]


def test_the_cli_tune_prints_the_fitted_weight(make_services, tmp_path):
    from click.testing import CliRunner

    from application.cli import main
    from application.commands import jobs as job_commands
    from application import create_app
    from application.api import close_app

    services = make_services(JOBS_WORKER="off", ADMIN_TOKEN=TOKEN, RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive")
    services.documents.ingest_paths([write_docs(tmp_path / "corpus", case_notes())])
    app = create_app(services.settings, services=services)
    rate_all(app.test_client())
    dense_heavy(services)
    close_app(app)
    services.close()  # the CLI opens the embedded Qdrant folder itself (one process at a time)

    runner = CliRunner()
    env = {"DATA_DIR": str(services.settings.data_dir), "LLM_PROVIDER": "extractive", "JOBS_WORKER": "off",
           "GATE_MIN_QUESTIONS": "10"}
    result = runner.invoke(main, ["tune"], env=env)
    assert result.exit_code == 0, result.output
    assert "Fitted weight" in result.output and "at the serving weight 0.95 (fitted)" in result.output
    assert "the fitted weight serves now" in result.output
    assert job_commands.tune.name == "tune"
    # without evidence the weight stays: the default minimum of evaluation questions is not reached
    kept = runner.invoke(main, ["tune"], env={**env, "GATE_MIN_QUESTIONS": "1000"})
    assert kept.exit_code == 0 and "kept" in kept.output and "not enough evidence" in kept.output, kept.output
    bad = runner.invoke(main, ["tune"], env={**env, "RETRIEVAL_MODE": "dense"})
    assert bad.exit_code != 0 and "only a hybrid search has a fusion weight to fit" in bad.output


def test_promote_serves_the_versions_fitted_weight_and_rollback_brings_the_old_one_back(tune_app, model_b):
    from training.registry import ModelRegistry

    client, services = tune_app
    dense_heavy(services, weight=0.8)
    version = ModelRegistry(services.settings.models_dir).register(
        model_b, base_model="all-MiniLM-L6-v2", gate={"status": "better", "reason": "test"}, metrics={"mrr@10": 0.6},
        retrieval={"mode": "hybrid", "method": "convex", "normalise": "minmax", "weight": 0.2, "lexical": "bm25-en",
                   "questions": 12, "origin": "fitted at training on 12 held-out questions"})
    listed = client.get("/api/admin/models", headers=ADMIN).get_json()
    assert listed["versions"][0]["retrieval"]["weight"] == 0.2

    job = client.get(f"/api/jobs/{client.post(f'/api/admin/models/{version.version}/promote', headers=ADMIN).get_json()['job_id']}",
                     headers=ADMIN).get_json()
    assert job["status"] == "done", job
    serving = client.get("/api/admin/models", headers=ADMIN).get_json()["serving"]
    assert serving["version"] == version.version
    assert serving["retrieval"]["weight"] == 0.2 and serving["retrieval"]["weight_source"] == "fitted"
    assert serving["retrieval"]["weight_detail"].startswith(f"registry {version.version}")
    hit = client.post("/api/search", json={"question": f"case {code(3)}", "chunks": 1}).get_json()[0]
    assert code(3) in hit["text"] and hit["lexical_score"] is not None

    rolled = client.post("/api/admin/models/rollback", headers=ADMIN).get_json()["serving"]
    assert rolled["version"] is None and rolled["retrieval"]["weight"] == 0.8
    assert rolled["retrieval"]["weight_detail"] == "an earlier fit"

