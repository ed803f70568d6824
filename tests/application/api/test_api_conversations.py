"""Conversations belong to whoever created them: list, read, rename, delete — and nobody else can."""
import pytest

from tests.application.api.helpers import ask, frame


@pytest.fixture
def mine(client):
    frames = ask(client, "Do you ship to the United States?", chunks=2)
    return frame(frames, "id")


@pytest.fixture
def stranger(app):
    """Another browser: its own cookie jar, so its own owner token."""
    other = app.test_client()
    ask(other, "Where is lunch served?", chunks=1)
    return other


def test_my_conversations_are_listed_newest_first_with_their_message_count(client, mine):
    second = frame(ask(client, "How much is express shipping?", chunks=1), "id")["id"]

    listed = client.get("/api/conversations").get_json()

    assert [c["id"] for c in listed][:2] == [second, mine["id"]]
    assert listed[1]["name"] == "Do you ship to the United States?" and listed[1]["message_count"] == 1


def test_a_conversation_is_read_with_its_messages_sources_and_feedback(client, mine):
    client.post("/api/feedback", json={"message_id": mine["message_id"], "feedback": "like"})

    conversation = client.get(f"/api/conversations/{mine['id']}").get_json()

    assert conversation["id"] == mine["id"]
    [message] = conversation["messages"]
    assert message["question"] == "Do you ship to the United States?"
    assert len(message["sources"]) == 2 and message["feedback"]["feedback"] == "like"


def test_rename_and_delete(client, mine):
    renamed = client.patch(f"/api/conversations/{mine['id']}", json={"name": "  US   shipping "})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "US shipping"
    assert client.get(f"/api/conversations/{mine['id']}").get_json()["name"] == "US shipping"
    assert client.patch(f"/api/conversations/{mine['id']}", json={"name": ""}).status_code == 400

    assert client.delete(f"/api/conversations/{mine['id']}").status_code == 200
    assert client.get(f"/api/conversations/{mine['id']}").status_code == 404
    assert client.post("/api/feedback", json={"message_id": mine["message_id"], "feedback": "like"}).status_code == 404


def test_docsgpts_conversation_routes_work_too(client, mine):
    assert {"id": mine["id"], "name": "Do you ship to the United States?"} in client.get("/api/get_conversations").get_json()
    [turn] = client.get(f"/api/get_single_conversation?id={mine['id']}").get_json()["queries"]
    assert turn["prompt"] == "Do you ship to the United States?" and turn["response"] and turn["message_id"] == mine["message_id"]
    assert client.post("/api/update_conversation_name", json={"id": mine["id"], "name": "renamed"}).status_code == 200
    assert client.post(f"/api/delete_conversation?id={mine['id']}").status_code == 200
    assert client.get(f"/api/get_single_conversation?id={mine['id']}").status_code == 404


def test_another_client_cannot_list_or_read_my_conversation(client, mine, stranger):
    assert mine["id"] not in [c["id"] for c in stranger.get("/api/conversations").get_json()]
    response = stranger.get(f"/api/conversations/{mine['id']}")
    assert response.status_code == 404 and "of yours" in response.get_json()["error"]
    assert stranger.get(f"/api/get_single_conversation?id={mine['id']}").status_code == 404


def test_another_client_cannot_rate_my_conversation(client, mine, stranger):
    by_id = stranger.post("/api/feedback", json={"message_id": mine["message_id"], "feedback": "dislike"})
    by_index = stranger.post("/api/feedback", json={"conversation_id": mine["id"], "question_index": 0, "feedback": "DISLIKE"})

    assert by_id.status_code == 404 and by_index.status_code == 404
    assert client.get(f"/api/conversations/{mine['id']}").get_json()["messages"][0]["feedback"] is None


def test_another_client_cannot_rename_delete_or_continue_my_conversation(client, mine, stranger):
    assert stranger.patch(f"/api/conversations/{mine['id']}", json={"name": "mine now"}).status_code == 404
    assert stranger.delete(f"/api/conversations/{mine['id']}").status_code == 404
    stranger.get("/api/delete_all_conversations")
    follow_up = stranger.post("/stream", json={"question": "and to Canada?", "conversation_id": mine["id"]})
    assert follow_up.status_code == 404

    conversation = client.get(f"/api/conversations/{mine['id']}").get_json()
    assert conversation["name"] == "Do you ship to the United States?" and len(conversation["messages"]) == 1


def test_a_client_without_a_token_gets_one_and_a_header_token_works_from_curl(app):
    browser = app.test_client()
    response = browser.post("/api/answer", json={"question": "refunds?", "chunks": 1})
    token = response.headers["X-Owner-Token"]
    assert browser.get_cookie("docstune_owner").value == token
    assert "HttpOnly" in response.headers["Set-Cookie"]

    curl = app.test_client(use_cookies=False)
    listed = curl.get("/api/conversations", headers={"X-Owner-Token": token}).get_json()
    assert [c["id"] for c in listed] == [response.get_json()["conversation_id"]]
    assert curl.get("/api/conversations").get_json() == []


def test_a_malformed_owner_token_is_refused(client):
    response = client.get("/api/conversations", headers={"X-Owner-Token": "short"})
    assert response.status_code == 400 and "owner token" in response.get_json()["error"]
