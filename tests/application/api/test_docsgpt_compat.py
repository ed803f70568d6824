"""DocsGPT's own clients (its widget, its React app) read DocsTune the way they read DocsGPT.

Each test is one mismatch found by reading DocsGPT's client code (arc53/DocsGPT at 52279d27:
``extensions/react-widget/src/``, ``frontend/src/conversation/``) against DocsTune; the bodies
sent here are the ones those clients send.
"""
import json

import pytest

from tests.application.api.helpers import answer_text, ask, frame, sse_frames
from tests.application.llm.fake_llm_servers import Status
from tests.conftest import app_factory

REFUND_QUESTION = "How long until a refund reaches my card?"
SHIPPING_QUESTION = "How long does shipping to the United States take?"


def widget_ask(client, question: str, queries: list[dict], conversation_id=None) -> list[dict]:
    """What the DocsGPT widget sends: it appends ``{prompt}`` to its list, then sends the whole list as
    ``history`` (a JSON string), with ``model`` and ``api_key`` (see streamingApi.ts)."""
    queries.append({"prompt": question})
    body = {"question": question, "history": json.dumps(queries), "conversation_id": conversation_id,
            "model": "default"}
    response = client.post("/stream", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    frames = sse_frames(response.get_data(as_text=True))
    queries[-1].update(response=answer_text(frames), sources=frame(frames, "source")["source"])
    return frames


# -- 3. the widget's history holds the current question, with no response yet ---------------------
def test_the_widgets_history_with_the_pending_question_is_answered(client):
    queries: list[dict] = []

    frames = widget_ask(client, REFUND_QUESTION, queries)

    assert "five business days" in answer_text(frames)
    assert [f["type"] for f in frames][-1] == "end"


def test_a_follow_up_from_the_widget_sends_the_earlier_turn_as_history(claude_app, fake_anthropic):
    client = claude_app.test_client()
    queries: list[dict] = []
    first = widget_ask(client, "Do you ship to the US?", queries)
    queries[-1]["feedback"] = "LIKE"  # the widget keeps its own rating on the item
    queries.append({"prompt": "Is a failed one skipped?", "error": "Something went wrong !"})

    second = widget_ask(client, "And express shipping?", queries, conversation_id=frame(first, "id")["id"])

    assert frame(second, "id")["id"] == frame(first, "id")["id"]
    messages = fake_anthropic.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "Do you ship to the US?" and messages[1]["content"] == queries[0]["response"]
    assert "And express shipping?" in messages[2]["content"]


@pytest.mark.parametrize(
    ("history", "reason"),
    [([{"prompt": 1}], "'prompt'"), ([{"prompt": "q", "response": 7}], "'response'"), (["text"], "object")],
)
def test_a_history_item_that_is_malformed_is_still_a_400(client, history, reason):
    response = client.post("/stream", json={"question": REFUND_QUESTION, "history": history})
    assert response.status_code == 400 and reason in response.get_json()["error"]


# -- 4. GET /api/get_single_conversation in DocsGPT's shape -------------------------------------
def test_get_single_conversation_returns_queries_with_status_complete(client):
    first = ask(client, REFUND_QUESTION)
    conversation_id = frame(first, "id")["id"]
    ask(client, SHIPPING_QUESTION, conversation_id=conversation_id)
    rated = client.post("/api/feedback", json={"conversation_id": conversation_id, "question_index": 0,
                                               "feedback": "LIKE"})
    assert rated.status_code == 200

    body = client.get(f"/api/get_single_conversation?id={conversation_id}").get_json()

    assert set(body) == {"queries", "agent_id", "is_shared_usage", "shared_token"}
    assert body["agent_id"] is None and body["is_shared_usage"] is False
    one, two = body["queries"]
    assert one["prompt"] == REFUND_QUESTION and one["response"] == answer_text(first)
    assert one["status"] == "complete" and two["status"] == "complete"
    assert one["message_id"] == frame(first, "id")["message_id"]
    assert one["feedback"] == "like" and "feedback" not in two
    assert one["sources"][0]["title"] == "Refund policy" and one["sources"][0]["text"]
    assert one["tool_calls"] == [] and one["timestamp"]


def test_a_failed_answer_reads_as_failed_with_its_error(claude_app, fake_anthropic):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Status(500, "boom"))
    frames = ask(client, REFUND_QUESTION)

    conversation_id = frame(frames, "error")["conversation_id"]
    [query] = client.get(f"/api/get_single_conversation?id={conversation_id}").get_json()["queries"]

    assert query["status"] == "failed" and query["metadata"]["error"] == frame(frames, "error")["error"]
    assert query["sources"] == []  # none reached the client


# -- 5. the SSE frames in DocsGPT's order -------------------------------------------------------
def test_the_stream_starts_with_the_message_id_frame(client):
    frames = ask(client, REFUND_QUESTION)

    kinds = [f["type"] for f in frames]
    assert kinds[0] == "message_id" and kinds[-3:] == ["source", "id", "end"]
    assert set(kinds[1:-3]) == {"answer"}
    first, ids = frames[0], frame(frames, "id")
    assert first["message_id"] == ids["message_id"] and first["conversation_id"] == ids["id"]


def test_a_follow_up_stream_names_the_same_conversation_first(client):
    conversation_id = frame(ask(client, REFUND_QUESTION), "id")["id"]

    frames = ask(client, SHIPPING_QUESTION, conversation_id=conversation_id)

    assert frames[0]["type"] == "message_id" and frames[0]["conversation_id"] == conversation_id


def test_the_frames_are_plain_data_lines_the_widget_can_parse(client):
    # the widget parses every non-empty line (after "data:") as JSON: an SSE "id:" or comment line breaks it
    text = client.post("/stream", json={"question": REFUND_QUESTION}).get_data(as_text=True)
    lines = [line for line in text.split("\n") if line.strip()]
    assert all(line.startswith("data: ") for line in lines)
    for line in lines:
        json.loads(line[len("data:"):])


# -- 6. index: a retry or an edit replaces the message at that position ---------------------------
@pytest.fixture
def three_turns(client):
    first = ask(client, REFUND_QUESTION)
    conversation_id = frame(first, "id")["id"]
    second = ask(client, SHIPPING_QUESTION, conversation_id=conversation_id)
    third = ask(client, "What is the office cat called?", conversation_id=conversation_id)
    return conversation_id, [frame(f, "id")["message_id"] for f in (first, second, third)]


def test_index_replaces_that_message_and_drops_the_later_ones(client, three_turns):
    conversation_id, message_ids = three_turns

    frames = ask(client, "Can gift cards be refunded?", conversation_id=conversation_id, index=1)

    messages = client.get(f"/api/conversations/{conversation_id}").get_json()["messages"]
    assert [m["question"] for m in messages] == [REFUND_QUESTION, "Can gift cards be refunded?"]
    assert [m["position"] for m in messages] == [0, 1]
    assert messages[1]["id"] == frame(frames, "id")["message_id"] and messages[0]["id"] == message_ids[0]
    queries = client.get(f"/api/get_single_conversation?id={conversation_id}").get_json()["queries"]
    assert [q["prompt"] for q in queries] == [REFUND_QUESTION, "Can gift cards be refunded?"]
    assert [c["message_count"] for c in client.get("/api/conversations").get_json() if c["id"] == conversation_id] == [2]


def test_feedback_by_question_index_rates_the_replacing_message(client, three_turns):
    conversation_id, _ = three_turns
    new_id = frame(ask(client, "Can gift cards be refunded?", conversation_id=conversation_id, index=1),
                   "id")["message_id"]

    rated = client.post("/api/feedback", json={"conversation_id": conversation_id, "question_index": 1,
                                               "feedback": "LIKE", "question": "Can gift cards be refunded?"})

    assert rated.status_code == 200 and rated.get_json()["message_id"] == new_id
    stale = client.post("/api/feedback", json={"conversation_id": conversation_id, "question_index": 2,
                                               "feedback": "LIKE"})
    assert stale.status_code == 404  # the third turn left the conversation with the edit


def test_a_retry_sees_only_the_turns_before_it_as_history(claude_app, fake_anthropic):
    client = claude_app.test_client()
    conversation_id = frame(ask(client, "Do you ship to the US?"), "id")["id"]
    ask(client, "And express shipping?", conversation_id=conversation_id)

    ask(client, "And express shipping, really?", conversation_id=conversation_id, index=1)

    messages = fake_anthropic.requests[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]  # the replaced turn is not history
    assert messages[0]["content"] == "Do you ship to the US?" and "really?" in messages[2]["content"]


def test_a_replaced_message_keeps_its_rating_for_training(client, admin_headers, three_turns):
    conversation_id, message_ids = three_turns
    assert client.post("/api/feedback", json={"message_id": message_ids[2], "feedback": "dislike"}).status_code == 200

    ask(client, "Can gift cards be refunded?", conversation_id=conversation_id, index=1)

    export = client.get("/api/feedback/export", headers=admin_headers).get_data(as_text=True)
    kept = [json.loads(line) for line in export.splitlines() if json.loads(line)["message_id"] == message_ids[2]]
    assert [(r["verdict"], r["question"]) for r in kept] == [("dislike", "What is the office cat called?")]
    assert kept[0]["retrieved"]


def test_an_index_past_the_end_appends(client):
    conversation_id = frame(ask(client, REFUND_QUESTION), "id")["id"]

    ask(client, SHIPPING_QUESTION, conversation_id=conversation_id, index=5)

    positions = [m["position"] for m in client.get(f"/api/conversations/{conversation_id}").get_json()["messages"]]
    assert positions == [0, 1]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [({"index": 0}, "'conversation_id'"), ({"index": -1, "conversation_id": "x"}, "'index'"),
     ({"index": "one", "conversation_id": "x"}, "'index'"), ({"index": True, "conversation_id": "x"}, "'index'"),
     ({"index": 2**40, "conversation_id": "x"}, "'index'")],
)
def test_a_bad_index_is_a_400_and_stores_nothing(client, extra, reason):
    response = client.post("/stream", json={"question": REFUND_QUESTION, **extra})
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert client.get("/api/conversations").get_json() == []


# -- 6. chunks 0 / isNoneDoc: an answer without retrieval -------------------------------------------
@pytest.mark.parametrize("body", [{"chunks": 0}, {"chunks": "0"}, {"isNoneDoc": True, "chunks": "2"}])
def test_chunks_0_or_isnonedoc_answers_without_retrieval(client, body):
    frames = ask(client, REFUND_QUESTION, **body)

    assert frame(frames, "source")["source"] == []
    assert answer_text(frames)  # the LLM still answers (the offline one says it found nothing)
    message = client.get(f"/api/conversations/{frame(frames, 'id')['id']}").get_json()["messages"][0]
    assert message["status"] == "ok" and message["sources"] == [] and message["retrieval"] is None


def test_isnonedoc_with_an_api_key_still_searches(client, admin_headers):
    # as DocsGPT: an API key chooses the documents, so isNoneDoc (the app's "nothing selected") is ignored
    key = client.post("/api/admin/api_keys", json={"name": "site"}, headers=admin_headers).get_json()["key"]

    frames = ask(client, REFUND_QUESTION, isNoneDoc=True, api_key=key)

    assert frame(frames, "source")["source"][0]["title"] == "Refund policy"


def test_isnonedoc_false_still_retrieves(client):
    assert frame(ask(client, REFUND_QUESTION, isNoneDoc=False, chunks="2"), "source")["source"]


def test_isnonedoc_that_is_not_a_boolean_is_a_400(client):
    response = client.post("/stream", json={"question": REFUND_QUESTION, "isNoneDoc": "yes"})
    assert response.status_code == 400 and "'isNoneDoc'" in response.get_json()["error"]


def test_search_still_needs_at_least_one_chunk(client):
    assert client.post("/api/search", json={"question": REFUND_QUESTION, "chunks": 0}).status_code == 400


# -- 6. sources carry DocsGPT's link -------------------------------------------------------------
def test_a_local_file_source_has_no_link_and_no_server_path(client, chat_data_dir):
    frames = ask(client, REFUND_QUESTION)

    sources = frame(frames, "source")["source"]
    assert sources and all("link" in s and s["link"] is None for s in sources)
    conversation = client.get(f"/api/get_single_conversation?id={frame(frames, 'id')['id']}").get_json()
    assert all(s["link"] is None for s in conversation["queries"][0]["sources"])


def test_a_web_page_source_links_to_its_address(make_settings, tmp_path):
    from application.container import DocsTune
    from application.settings import Settings

    services = DocsTune(make_settings())
    try:
        page = tmp_path / "returns.md"
        page.write_text("# Returns\n\nParcels can be returned within 30 days at any post office.\n")
        assert services.documents.ingest_file(page, uri="https://docs.example.com/returns", title="Returns").ok
        settings = {"DATA_DIR": tmp_path / "data", "RATE_LIMIT_ENABLED": False, "LLM_PROVIDER": "extractive",
                    "ANTHROPIC_API_KEY": ""}
        with app_factory(services, lambda **o: Settings(**{**settings, **o})) as make:
            client = make().test_client()
            [source] = frame(ask(client, "Where can parcels be returned?", chunks=1), "source")["source"]
            hit = client.post("/api/search", json={"question": "Where can parcels be returned?", "chunks": 1})
    finally:
        services.close()

    assert source["link"] == "https://docs.example.com/returns" and source["title"] == "Returns"
    assert hit.get_json()[0]["link"] == "https://docs.example.com/returns"
