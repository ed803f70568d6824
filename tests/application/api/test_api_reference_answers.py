"""POST /api/admin/evaluation/references: a liked answer with a comment becomes its question's reference
answer in the frozen evaluation set (answers from the real anthropic SDK talking to the local fake API)."""
import json

import pytest

from tests.application.llm.fake_llm_servers import Reply

ROUTE = "/api/admin/evaluation/references"


def answered(client, question: str) -> dict:
    response = client.post("/api/answer", json={"question": question})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rate(client, message_id: str, **rating) -> None:
    response = client.post("/api/feedback", json={"message_id": message_id, **rating})
    assert response.status_code == 200, response.get_json()


def test_a_liked_answer_with_a_comment_becomes_the_reference_answer_of_its_question(
        claude_app, fake_anthropic, admin_headers):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Reply("Refunds reach the original card within five business days [1]."))
    body = answered(client, "When does a refund reach my card?")
    cited = [s["chunk_id"] for s in body["sources"] if s["cited"]]
    assert len(cited) == 1 and body["sources"][0]["title"] == "Refund policy"
    rate(client, body["message_id"], feedback="like", comment="Exactly what the policy says.")
    before = client.get("/api/admin/evaluation", headers=admin_headers).get_json()

    response = client.post(ROUTE, headers=admin_headers, json={"message_id": body["message_id"]})

    assert response.status_code == 200, response.get_json()
    row = response.get_json()
    assert row["question"] == "When does a refund reach my card?" and row["relevant"] == cited
    assert row["reference_answer"] == "Refunds reach the original card within five business days."  # no [1]
    assert row["reference_origin"] == "feedback" and row["origin"] == "feedback" and row["added"] is True
    after = client.get("/api/admin/evaluation", headers=admin_headers).get_json()
    assert after["questions"] == before["questions"] + 1
    assert after["reference_answers"] == before["reference_answers"] + 1
    exported = json.loads(client.get("/api/admin/evaluation/export", headers=admin_headers).get_data())
    assert exported["queries"][row["query_id"]] == row["question"] and exported["relevant_docs"][row["query_id"]] == cited
    assert exported["answers"][row["query_id"]] == row["reference_answer"]

    # an edited text replaces it, the question stays where it was
    edited = client.post(ROUTE, headers=admin_headers, json={
        "message_id": body["message_id"], "answer": "  Within five business days, on the card paid with [1][2].  "})
    assert edited.status_code == 200
    assert edited.get_json()["reference_answer"] == "Within five business days, on the card paid with."
    assert edited.get_json()["query_id"] == row["query_id"] and edited.get_json()["added_at"] == row["added_at"]
    assert edited.get_json()["added"] is False
    again = client.get("/api/admin/evaluation", headers=admin_headers).get_json()
    assert (again["questions"], again["reference_answers"]) == (after["questions"], after["reference_answers"])


def test_a_source_marked_helpful_is_relevant_even_when_the_answer_cites_none(claude_app, fake_anthropic,
                                                                            admin_headers):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Reply("Express shipping costs 15 euros."))
    body = answered(client, "What does express shipping cost?")
    helpful = body["sources"][0]["chunk_id"]
    rate(client, body["message_id"], feedback="like", comment="Right price.", sources={helpful: "relevant"})

    response = client.post(ROUTE, headers=admin_headers, json={"message_id": body["message_id"]})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["relevant"] == [helpful]
    assert response.get_json()["reference_answer"] == "Express shipping costs 15 euros."


def test_an_imported_question_keeps_its_chunks_and_gets_the_reference_answer(claude_app, fake_anthropic,
                                                                             admin_headers):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Reply("Gift cards cannot be refunded once used [1]."))
    body = answered(client, "Can a used gift card be refunded?")
    imported_chunk = body["sources"][-1]
    assert not imported_chunk["cited"]
    imported = client.post("/api/admin/evaluation/import", headers=admin_headers, json={
        "queries": {"g": "Can a used gift card be refunded?"}, "corpus": {imported_chunk["chunk_id"]: imported_chunk["text"]},
        "relevant_docs": {"g": [imported_chunk["chunk_id"]]}})
    assert imported.status_code == 200 and imported.get_json()["added"] == 1
    rate(client, body["message_id"], feedback="like", comment="Clear.")

    row = client.post(ROUTE, headers=admin_headers, json={"message_id": body["message_id"]}).get_json()

    assert row["origin"] == "import" and row["relevant"] == [imported_chunk["chunk_id"]] and row["added"] is False
    assert row["reference_answer"] == "Gift cards cannot be refunded once used."
    assert row["reference_origin"] == "feedback"


@pytest.mark.parametrize(("rating", "reply", "body", "status", "reason"), [
    (None, "Five days [1].", {}, 409, "no one rated this one thumbs-up"),
    ({"feedback": "dislike", "comment": "Wrong."}, "Five days [1].", {}, 409, "no one rated this one thumbs-up"),
    ({"feedback": "like"}, "Five days [1].", {}, 409, "has no comment saying why it is good"),
    ({"feedback": "like", "comment": "Good."}, "Five days, no source cited.", {}, 409,
     "make no chunk relevant: the answer cites no source and no source is marked helpful"),
    ({"feedback": "like", "comment": "Good."}, "Five days [1].", {"answer": " [1] [2] "}, 400,
     "empty once its [n] source markers are removed"),
    ({"feedback": "like", "comment": "Good."}, "Five days [1].", {"answer": "   "}, 400, "'answer'"),
    ({"feedback": "like", "comment": "Good."}, "Five days [1].", {"message_id": "no-such-message"}, 404,
     "No message 'no-such-message'"),
    ({"feedback": "like", "comment": "Good."}, "Five days [1].", {"message_id": 7}, 400, "'message_id'"),
])
def test_a_message_that_cannot_be_a_reference_is_refused_with_the_reason_and_nothing_changes(
        claude_app, fake_anthropic, admin_headers, rating, reply, body, status, reason):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Reply(reply))
    message_id = answered(client, "How many days does a refund take?")["message_id"]
    if rating is not None:
        rate(client, message_id, **rating)
    before = client.get("/api/admin/evaluation", headers=admin_headers).get_json()

    response = client.post(ROUTE, headers=admin_headers, json={"message_id": message_id, **body})

    assert response.status_code == status and reason in response.get_json()["error"], response.get_json()
    assert client.get("/api/admin/evaluation", headers=admin_headers).get_json() == before


def test_promoting_a_reference_answer_needs_the_admin_token(claude_app):
    response = claude_app.test_client().post(ROUTE, json={"message_id": "any"})
    assert response.status_code == 401
