"""Asking: SSE frames, the non-streamed answer, retrieval only, and what a message row keeps."""
import json
import socket

import pytest

from tests.application.api.helpers import answer_text, ask, frame
from tests.application.llm.fake_llm_servers import Hang, Reply, Status, StreamThenError

REFUND_QUESTION = "How long until a refund reaches my card?"


def test_stream_sends_answer_pieces_then_the_sources_then_the_ids_then_end(client):
    frames = ask(client, REFUND_QUESTION)

    kinds = [f["type"] for f in frames]
    assert kinds.count("answer") > 2  # the offline answer in pieces of a few words (one frame per line at most)
    assert kinds[0] == "message_id" and kinds[-3:] == ["source", "id", "end"]  # DocsGPT's order
    assert set(kinds[1:-3]) == {"answer"}
    ids = frame(frames, "id")
    assert ids["id"] and ids["message_id"] and ids["id"] != ids["message_id"]
    first = frame(frames, "source")["source"][0]
    assert {"chunk_id", "title", "text", "score", "rank", "cited"} <= set(first)
    assert first["rank"] == 1 and first["title"] == "Refund policy"


def test_the_offline_answer_quotes_the_matching_sentence_and_cites_it(client):
    frames = ask(client, REFUND_QUESTION)

    text = answer_text(frames)
    assert "no language model is configured" in text
    assert "Refunds are paid back to the original card within five business days. [1]" in text
    sources = frame(frames, "source")["source"]
    assert sources[0]["cited"] is True and not any(s["cited"] for s in sources[1:])


def test_the_message_keeps_question_answer_models_and_every_retrieved_chunk(client, chat_services):
    frames = ask(client, REFUND_QUESTION, chunks=3)
    ids = frame(frames, "id")

    conversation = client.get(f"/api/conversations/{ids['id']}").get_json()

    message = conversation["messages"][0]
    assert message["id"] == ids["message_id"]
    assert message["question"] == REFUND_QUESTION and message["answer"] == answer_text(frames)
    assert message["status"] == "ok" and message["error"] is None
    assert message["llm"] == "extractive"
    assert message["model_fingerprint"] == chat_services.serving.current.embeddings.fingerprint
    assert message["created_at"] and message["completed_at"]
    stored = [(s["chunk_id"], s["rank"], s["cited"], s["shown"]) for s in message["sources"]]
    streamed = [(s["chunk_id"], s["rank"], s["cited"], True) for s in frame(frames, "source")["source"]]
    assert stored == streamed and len(stored) == 3
    assert [s["score"] for s in message["sources"]] == sorted((s["score"] for s in message["sources"]), reverse=True)


def test_the_chunks_setting_is_the_number_of_sources(client):
    assert len(frame(ask(client, REFUND_QUESTION, chunks=1), "source")["source"]) == 1
    assert len(frame(ask(client, REFUND_QUESTION, chunks="2"), "source")["source"]) == 2  # DocsGPT sends a string


def test_claude_answers_through_the_real_sdk_with_the_sources_in_its_prompt(claude_app, fake_anthropic):
    fake_anthropic.enqueue(Reply("Refunds reach the card within five business days [1]."))
    client = claude_app.test_client()

    frames = ask(client, REFUND_QUESTION)

    assert answer_text(frames) == "Refunds reach the card within five business days [1]."
    assert len([f for f in frames if f["type"] == "answer"]) > 3
    body = fake_anthropic.requests[-1]["body"]
    assert body["stream"] is True and body["model"] == "claude-test"
    assert "[1] Refund policy\nCustomers can ask for a full refund" in body["system"]
    assert body["messages"][-1] == {"role": "user", "content": REFUND_QUESTION}
    sources = frame(frames, "source")["source"]
    assert [s["cited"] for s in sources] == [True] + [False] * (len(sources) - 1)
    message = client.get(f"/api/conversations/{frame(frames, 'id')['id']}").get_json()["messages"][0]
    assert message["llm"] == "anthropic/claude-test"


def test_a_follow_up_question_sends_the_earlier_turns_to_the_llm(claude_app, fake_anthropic):
    client = claude_app.test_client()
    fake_anthropic.enqueue(Reply("Within 30 days [1]."), Reply("Five business days [1]."))
    conversation_id = frame(ask(client, "Until when can I ask for a refund?"), "id")["id"]

    frames = ask(client, "And how long does the money take?", conversation_id=conversation_id)

    assert frame(frames, "id")["id"] == conversation_id
    assert fake_anthropic.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "Until when can I ask for a refund?"},
        {"role": "assistant", "content": "Within 30 days [1]."},
        {"role": "user", "content": "And how long does the money take?"},
    ]
    positions = [m["position"] for m in client.get(f"/api/conversations/{conversation_id}").get_json()["messages"]]
    assert positions == [0, 1]


def test_history_sent_in_the_body_is_used_docsgpt_style(claude_app, fake_anthropic):
    history = json.dumps([{"prompt": "Do you ship to the US?", "response": "Yes, in 5 to 8 days [1]."}])
    ask(claude_app.test_client(), "And express shipping?", history=history)

    messages = fake_anthropic.requests[-1]["body"]["messages"]
    assert messages[:2] == [
        {"role": "user", "content": "Do you ship to the US?"},
        {"role": "assistant", "content": "Yes, in 5 to 8 days [1]."},
    ]


def test_api_answer_returns_the_whole_answer_with_ids_and_sources(client):
    response = client.post("/api/answer", json={"question": REFUND_QUESTION})

    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"conversation_id", "message_id", "answer", "sources"}
    assert "five business days" in body["answer"] and body["sources"][0]["title"] == "Refund policy"


def test_search_returns_ranked_chunks_with_scores_and_stores_nothing(client):
    response = client.post("/api/search", json={"question": "shipping to the United States", "chunks": 2})

    hits = response.get_json()
    assert response.status_code == 200 and [h["rank"] for h in hits] == [1, 2]
    assert hits[0]["title"] == "shipping" and "United States" in hits[0]["text"]
    assert hits[0]["score"] >= hits[1]["score"]
    assert client.get("/api/conversations").get_json() == []


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (Status(401, "invalid x-api-key"), "ANTHROPIC_API_KEY"),
        (Status(429, "slow down"), "rate limiting"),
        (Status(500, "boom"), "failed (500)"),
        (Hang(5), "LLM_TIMEOUT"),
    ],
    ids=["401", "429", "500", "timeout"],
)
def test_an_llm_failure_is_an_error_frame_a_failed_message_and_the_server_keeps_serving(
    claude_app, fake_anthropic, behaviour, expected
):
    client = claude_app.test_client()
    fake_anthropic.enqueue(behaviour)

    frames = ask(client, REFUND_QUESTION)

    error = frame(frames, "error")
    assert expected in error["error"]
    assert not [f for f in frames if f["type"] in ("source", "end")]
    message = client.get(f"/api/conversations/{error['conversation_id']}").get_json()["messages"][0]
    assert message["status"] == "failed" and expected in message["error"]
    assert not any(s["shown"] for s in message["sources"])
    # the next question is answered normally
    fake_anthropic.enqueue(Reply("Five days [1]."))
    assert answer_text(ask(client, REFUND_QUESTION)) == "Five days [1]."


def test_an_error_in_the_middle_of_the_stream_keeps_the_partial_answer_as_failed(claude_app, fake_anthropic):
    client = claude_app.test_client()
    fake_anthropic.enqueue(StreamThenError("Refunds take five"))

    frames = ask(client, REFUND_QUESTION)

    assert answer_text(frames) == "Refunds take five" and frame(frames, "error")
    message = client.get(f"/api/conversations/{frame(frames, 'error')['conversation_id']}").get_json()["messages"][0]
    assert message["status"] == "failed" and message["answer"] == "Refunds take five"


def test_an_llm_server_that_is_down_gives_a_clear_error(make_app):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = make_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="k", ANTHROPIC_BASE_URL=f"http://127.0.0.1:{port}",
                   LLM_MAX_RETRIES=0, LLM_TIMEOUT=2)

    response = app.test_client().post("/api/answer", json={"question": REFUND_QUESTION})

    assert response.status_code == 503
    body = response.get_json()
    assert "Cannot reach" in body["error"] and "ANTHROPIC_BASE_URL" in body["error"]
    assert body["message_id"] and body["conversation_id"]


def test_a_client_that_leaves_mid_answer_leaves_a_partial_message(client):
    response = client.post("/stream", json={"question": REFUND_QUESTION}, buffered=False)
    frames = iter(response.response)
    first, second = next(frames), next(frames)
    response.close()

    assert json.loads(first.decode()[len("data: "):])["type"] == "message_id"
    assert json.loads(second.decode()[len("data: "):])["type"] == "answer"
    conversation = client.get("/api/conversations").get_json()[0]
    message = client.get(f"/api/conversations/{conversation['id']}").get_json()["messages"][0]
    assert message["status"] == "partial" and "closed the connection" in message["error"]
    assert message["answer"] and not any(source["shown"] for source in message["sources"])
