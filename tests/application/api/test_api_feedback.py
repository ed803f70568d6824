"""Ratings: thumbs, per-source marks, comments, changing one's mind, concurrency, and the export."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner

from tests.application.api.helpers import ask, frame


@pytest.fixture
def rated(client):
    """One answered message of this client: its id and the ids of its sources."""
    frames = ask(client, "How long until a refund reaches my card?")
    return {
        "conversation_id": frame(frames, "id")["id"],
        "message_id": frame(frames, "id")["message_id"],
        "chunks": [s["chunk_id"] for s in frame(frames, "source")["source"]],
    }


def stored_feedback(client, rated):
    return client.get(f"/api/conversations/{rated['conversation_id']}").get_json()["messages"][0]["feedback"]


def test_a_like_with_source_marks_and_a_comment_is_stored(client, rated):
    good, bad = rated["chunks"][0], rated["chunks"][1]
    response = client.post("/api/feedback", json={
        "message_id": rated["message_id"], "feedback": "like",
        "sources": {good: "relevant", bad: "irrelevant"}, "comment": "  spot on ",
    })

    assert response.status_code == 200
    assert response.get_json() == {"message_id": rated["message_id"], "feedback": "like",
                                   "sources": {good: "relevant", bad: "irrelevant"}, "comment": "spot on"}
    stored = stored_feedback(client, rated)
    assert stored["feedback"] == "like" and stored["sources"] == {good: "relevant", bad: "irrelevant"}


def test_changing_ones_mind_overwrites_and_null_clears(client, rated):
    chunk = rated["chunks"][0]
    client.post("/api/feedback", json={"message_id": rated["message_id"], "feedback": "like", "sources": {chunk: "relevant"}})
    client.post("/api/feedback", json={"message_id": rated["message_id"], "feedback": "dislike"})
    assert stored_feedback(client, rated)["feedback"] == "dislike"
    assert stored_feedback(client, rated)["sources"] == {chunk: "relevant"}  # not mentioned: kept

    client.post("/api/feedback", json={"message_id": rated["message_id"], "sources": {chunk: "irrelevant"}})
    assert stored_feedback(client, rated)["sources"] == {chunk: "irrelevant"}

    client.post("/api/feedback", json={"message_id": rated["message_id"], "feedback": None, "sources": {chunk: None}})
    assert stored_feedback(client, rated) is None


def test_docsgpts_feedback_body_is_accepted(client, rated):
    response = client.post("/api/feedback", json={
        "conversation_id": rated["conversation_id"], "question_index": 0, "feedback": "DISLIKE",
    })

    assert response.status_code == 200 and response.get_json()["message_id"] == rated["message_id"]
    assert stored_feedback(client, rated)["feedback"] == "dislike"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"message_id": None, "feedback": "like"}, 400, "Name the message"),
        ({"feedback": "love"}, 400, "'feedback' must be"),
        ({"feedback": 1}, 400, "'feedback' must be"),
        ({"sources": {"CHUNK0": "meh"}}, 400, "use \"relevant\""),
        ({"sources": ["x"]}, 400, "'sources' must be an object"),
        ({"sources": {"not-retrieved": "relevant"}}, 400, "not retrieved for this message"),
        ({"comment": 5}, 400, "'comment' must be"),
        ({}, 400, "Nothing to record"),
    ],
)
def test_bad_feedback_is_refused_with_a_reason_and_nothing_is_stored(client, rated, body, status, reason):
    body = {"message_id": rated["message_id"], **body}
    if body["message_id"] is None:
        del body["message_id"]
    body = json.loads(json.dumps(body).replace("CHUNK0", rated["chunks"][0]))

    response = client.post("/api/feedback", json=body)

    assert response.status_code == status
    assert reason in response.get_json()["error"]
    assert stored_feedback(client, rated) is None


def test_feedback_on_an_unknown_message_is_404(client):
    response = client.post("/api/feedback", json={"message_id": "no-such-message", "feedback": "like"})
    assert response.status_code == 404 and "no-such-message" in response.get_json()["error"]


def test_two_hundred_concurrent_feedback_posts_from_threads_all_land(app, chat_services):
    from application.chat.answer import record_outcome, store_pending_message
    from application.chat.owners import owner_key

    token = "concurrency-owner-token"
    # 200 answered messages of one person, stored the way /stream stores them (one real retrieval)
    hits = chat_services.serving.search("How long until a refund reaches my card?", k=2)
    fingerprint = chat_services.serving.current.embeddings.fingerprint
    messages = []
    for i in range(200):
        _, message_id = store_pending_message(chat_services.db, owner_key(token), None, f"refund question {i}",
                                              hits, "extractive", fingerprint)
        record_outcome(chat_services.db, message_id, "Five business days [1].", {"status": "ok", "error": None, "cited": {1}})
        messages.append(message_id)
    verdict = {mid: ("like" if i % 3 else "dislike") for i, mid in enumerate(messages)}
    mark = {mid: hits[i % 2].chunk_id for i, mid in enumerate(messages)}
    start = threading.Barrier(200)

    def rate(message_id):
        client = app.test_client()
        start.wait()
        return client.post("/api/feedback", headers={"X-Owner-Token": token}, json={
            "message_id": message_id, "feedback": verdict[message_id], "sources": {mark[message_id]: "relevant"},
        }).status_code

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(rate, messages))

    assert statuses == [200] * 200
    exported = {r["message_id"]: r for r in map(json.loads, _export(app))}
    for message_id in messages:
        assert exported[message_id]["verdict"] == verdict[message_id]
        assert exported[message_id]["sources"] == {mark[message_id]: "relevant"}
        assert exported[message_id]["retrieved"][0]["cited"] is True


def test_concurrent_changes_of_mind_on_one_message_leave_exactly_one_rating(client, rated, app):
    owner_cookie = client.get_cookie("docstune_owner").value
    start = threading.Barrier(40)

    def rate(i):
        other = app.test_client()
        other.set_cookie("docstune_owner", owner_cookie)
        start.wait()
        return other.post("/api/feedback", json={"message_id": rated["message_id"],
                                                 "feedback": "like" if i % 2 else "dislike"}).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        assert set(pool.map(rate, range(40))) == {200}

    lines = [json.loads(line) for line in _export(app) if json.loads(line)["message_id"] == rated["message_id"]]
    assert len(lines) == 1 and lines[0]["verdict"] in ("like", "dislike")


def _export(app) -> list[str]:
    from tests.application.api.conftest import ADMIN_TOKEN

    response = app.test_client().get("/api/feedback/export", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    return [line for line in response.get_data(as_text=True).splitlines() if line]


def test_the_export_is_one_jsonl_object_per_rated_message_in_the_training_format(client, rated, app, chat_services):
    cited, other = rated["chunks"][0], rated["chunks"][1]
    client.post("/api/feedback", json={"message_id": rated["message_id"], "feedback": "like",
                                       "sources": {other: "irrelevant"}, "comment": "good"})

    response = app.test_client().get("/api/feedback/export", headers={"Authorization": "Bearer test-admin-token-0123456789"})

    assert response.mimetype == "application/x-ndjson"
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    mine = [r for r in records if r["message_id"] == rated["message_id"]]
    assert len(mine) == 1
    record = mine[0]
    assert set(record) == {"message_id", "question", "verdict", "voter", "voted_at", "comment", "sources",
                           "retrieved", "model_fingerprint", "retrieval"}
    assert record["question"] == "How long until a refund reaches my card?"
    assert record["verdict"] == "like" and record["comment"] == "good"
    assert record["sources"] == {other: "irrelevant"}
    assert record["voted_at"].endswith("+00:00")
    assert len(record["voter"]) == 64 and client.get_cookie("docstune_owner").value not in record["voter"]
    assert record["model_fingerprint"] == chat_services.serving.current.embeddings.fingerprint
    assert [r["rank"] for r in record["retrieved"]] == list(range(1, len(rated["chunks"]) + 1))
    assert record["retrieved"][0]["chunk_id"] == cited and record["retrieved"][0]["cited"] is True
    assert "full refund" in record["retrieved"][0]["text"] and isinstance(record["retrieved"][0]["score"], float)
    # the pipeline that retrieved them, and each leg's own score
    assert record["retrieval"]["mode"] == "hybrid" and record["retrieval"]["lexical_version"].startswith("qdrant-edge-bm25")
    assert record["retrieval"]["fingerprint"] == record["model_fingerprint"]
    assert isinstance(record["retrieved"][0]["dense_score"], float) and record["retrieved"][0]["lexical_score"] > 0


def test_the_cli_export_writes_the_same_lines_and_training_reads_them(client, rated, app, chat_data_dir, tmp_path):
    from application.cli import main
    from training.feedback import read_feedback_jsonl

    client.post("/api/feedback", json={"message_id": rated["message_id"], "feedback": "dislike"})
    target = tmp_path / "out" / "feedback.jsonl"

    result = CliRunner().invoke(main, ["feedback", "export", "-o", str(target)], env={"DATA_DIR": str(chat_data_dir)})

    assert result.exit_code == 0, result.output
    assert target.read_text().splitlines() == _export(app)
    records = {r.message_id: r for r in read_feedback_jsonl(target)}
    assert records[rated["message_id"]].verdict == "dislike"
    assert records[rated["message_id"]].retrieved[0].cited is True


def test_the_export_needs_the_admin_token(client):
    assert client.get("/api/feedback/export").status_code == 401
    wrong = client.get("/api/feedback/export", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401 and "Bearer" in wrong.get_json()["error"]
