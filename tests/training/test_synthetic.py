import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.training.conftest import chunk_texts
from training.records import SyntheticQuery
from training.synthetic import (
    ClaudeQuestionGenerator,
    InverseClozeGenerator,
    generate_synthetic_queries,
    parse_questions,
    synthetic_ir_dataset,
)


def test_the_offline_generator_uses_a_sentence_of_the_chunk_as_query_and_removes_it_from_the_context():
    chunks = chunk_texts()
    queries = InverseClozeGenerator(questions_per_chunk=2, seed=3, remove_probability=1.0).generate(chunks, False)
    assert len(queries) == 2 * len(chunks)
    for q in queries:
        assert isinstance(q, SyntheticQuery) and q.method == "inverse_cloze"
        assert q.question in chunks[q.chunk_id] and q.question not in q.context


def test_the_offline_generator_is_reproducible_per_chunk():
    chunks = chunk_texts()
    first = InverseClozeGenerator(seed=1).generate(chunks, False)
    again = InverseClozeGenerator(seed=1).generate({"billing-1": chunks["billing-1"]}, False)
    assert [q for q in first if q.chunk_id == "billing-1"] == again


def test_without_a_key_the_offline_method_is_used_and_written_as_ir_json():
    chunks = chunk_texts()
    queries = generate_synthetic_queries(chunks, questions_per_chunk=1, show_progress=False)
    ir = synthetic_ir_dataset(chunks, queries).validate()
    assert {q.method for q in queries} == {"inverse_cloze"} and len(ir.queries) == len(chunks)


def test_numbering_and_bullets_are_stripped_from_claudes_questions():
    assert parse_questions("1. How much is Pro?\n- Is VAT included?\n\n3) What?\nextra line here", 2) == [
        "How much is Pro?", "Is VAT included?"]


class FakeMessagesAPI(BaseHTTPRequestHandler):
    """Speaks just enough of the Anthropic Messages API for the SDK."""

    requests: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeMessagesAPI.requests.append({"path": self.path, "key": self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer "), "body": body})
        prompt = body["messages"][0]["content"]
        topic = "refund" if "refund" in prompt else "something"
        reply = {
            "id": "msg_test", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": f"1. How do I get a {topic}?\n2. When does the {topic} arrive?"}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 12},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def messages_server():
    FakeMessagesAPI.requests = []
    server = HTTPServer(("127.0.0.1", 0), FakeMessagesAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_claude_writes_questions_through_the_messages_api_and_a_rerun_is_served_from_the_cache(tmp_path, messages_server):
    chunks = {"billing-2": chunk_texts()["billing-2"], "sync-1": chunk_texts()["sync-1"]}
    options = dict(api_key="sk-test", base_url=messages_server, cache_dir=tmp_path / "cache", model="claude-test")
    queries = generate_synthetic_queries(chunks, questions_per_chunk=2, show_progress=False, **options)
    assert len(FakeMessagesAPI.requests) == 2
    first = FakeMessagesAPI.requests[0]
    assert first["path"] == "/v1/messages" and first["key"] == "sk-test" and first["body"]["model"] == "claude-test"
    assert "Write 2 different questions" in first["body"]["messages"][0]["content"]
    assert SyntheticQuery("billing-2", "How do I get a refund?", "claude") in queries
    assert {q.method for q in queries} == {"claude"} and len(queries) == 4

    again = generate_synthetic_queries(chunks, questions_per_chunk=2, show_progress=False, **options)
    assert again == queries and len(FakeMessagesAPI.requests) == 2  # nothing new was asked


def test_a_changed_chunk_is_asked_again(tmp_path, messages_server):
    generator = ClaudeQuestionGenerator("sk-test", base_url=messages_server, cache_dir=tmp_path, questions_per_chunk=2)
    generator.generate({"c": "Refunds take five days."}, show_progress=False)
    generator.generate({"c": "Refunds take ten days."}, show_progress=False)
    assert generator.api_calls == 2 and len(list(tmp_path.glob("*.json"))) == 2
