"""The Anthropic backend, driven through the real ``anthropic`` SDK against a local fake Messages API."""
import socket

import pytest

from application.llm import LLMError, PromptTemplate
from application.llm.anthropic_llm import AnthropicLLM
from application.retrieval.hits import SearchHit
from tests.application.llm.fake_llm_servers import Hang, Reply, Status, StreamThenError

HITS = [
    SearchHit("c-1", "s-1", "Refunds are paid within 14 days of the request.", 0.82, 1, "Refund policy", "docs/refunds.md", None, 0),
    SearchHit("c-2", "s-2", "Shipping to Norway takes {three} working days.", 0.61, 2, "Shipping", "docs/shipping.md", 3, 2),
]


def make_llm(server, **options) -> AnthropicLLM:
    defaults = {"api_key": "sk-ant-test", "model": "claude-test", "base_url": server.base_url, "timeout": 5, "max_retries": 0}
    return AnthropicLLM(**{**defaults, **options})


def test_the_answer_is_streamed_piece_by_piece_through_the_real_sdk(fake_anthropic):
    fake_anthropic.enqueue(Reply("Refunds take 14 days [1]."))
    prompt = PromptTemplate.load().render("How long do refunds take?", HITS)

    streamed = list(make_llm(fake_anthropic).stream(prompt))

    assert len(streamed) > 3
    assert "".join(streamed) == "Refunds take 14 days [1]."


def test_the_numbered_sources_and_the_question_reach_the_messages_api(fake_anthropic):
    prompt = PromptTemplate.load().render("How long do refunds take?", HITS)
    make_llm(fake_anthropic).complete(prompt)

    request = fake_anthropic.requests[-1]
    assert request["path"] == "/v1/messages"
    # SDK 2.x sends the key as a bearer token; older ones as x-api-key
    headers = request["headers"]
    assert "sk-ant-test" in headers.get("x-api-key", "") + headers.get("authorization", "")
    body = request["body"]
    assert body["model"] == "claude-test" and body["stream"] is True
    assert "[1] Refund policy\nRefunds are paid within 14 days of the request." in body["system"]
    assert "[2] Shipping (page 3)\nShipping to Norway takes {three} working days." in body["system"]
    assert body["messages"] == [{"role": "user", "content": "How long do refunds take?"}]


def test_history_turns_come_before_the_question(fake_anthropic):
    prompt = PromptTemplate.load().render("And shipping?", HITS, history=[("Refunds?", "14 days [1].")])
    make_llm(fake_anthropic).complete(prompt)

    assert fake_anthropic.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "Refunds?"},
        {"role": "assistant", "content": "14 days [1]."},
        {"role": "user", "content": "And shipping?"},
    ]


@pytest.mark.parametrize(
    ("status", "kind", "hint"),
    [(401, "auth", "ANTHROPIC_API_KEY"), (429, "rate_limit", "429"), (500, "unavailable", "500"), (400, "bad_request", "400")],
)
def test_api_errors_become_an_llm_error_that_says_what_to_do(fake_anthropic, status, kind, hint):
    fake_anthropic.enqueue(Status(status, "nope"))
    prompt = PromptTemplate.load().render("q?", HITS)

    with pytest.raises(LLMError) as caught:
        make_llm(fake_anthropic).complete(prompt)

    assert caught.value.kind == kind
    assert hint in caught.value.message


def test_a_slow_llm_times_out_with_a_clear_error(fake_anthropic):
    fake_anthropic.enqueue(Hang(3))
    with pytest.raises(LLMError) as caught:
        make_llm(fake_anthropic, timeout=0.5).complete(PromptTemplate.load().render("q?", HITS))
    assert caught.value.kind == "timeout"
    assert "LLM_TIMEOUT" in caught.value.message


def test_a_server_that_is_down_becomes_an_unavailable_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    llm = AnthropicLLM(api_key="k", model="m", base_url=f"http://127.0.0.1:{port}", timeout=2, max_retries=0)
    with pytest.raises(LLMError) as caught:
        llm.complete(PromptTemplate.load().render("q?", HITS))
    assert caught.value.kind == "unavailable"
    assert "ANTHROPIC_BASE_URL" in caught.value.message


def test_an_error_event_in_the_middle_of_the_stream_raises_after_the_partial_text(fake_anthropic):
    fake_anthropic.enqueue(StreamThenError("Refunds take"))
    received = []
    with pytest.raises(LLMError):
        for piece in make_llm(fake_anthropic).stream(PromptTemplate.load().render("q?", HITS)):
            received.append(piece)
    assert "".join(received) == "Refunds take"
