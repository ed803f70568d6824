"""An LLM that hangs before its first word, stalls mid-answer or hangs up before the end,
for both chat providers (the real ``anthropic`` SDK, and httpx for OpenAI-compatible
servers), each against its local fake server: the stream ends within LLM_TIMEOUT with an
error frame that says so, the message keeps the partial answer as ``failed``, and the next
question is answered normally."""
from __future__ import annotations

import time

import pytest

from tests.application.api.helpers import sse_frames
from tests.application.faults.helpers import OWNER_PREFIX
from tests.application.llm.fake_llm_servers import Hang, Reply, Slow, Stall

LLM_TIMEOUT = 1
PARTIAL = "Refunds take five"

BEHAVIOURS = {
    # silent from the start: no status line, no headers
    "hangs before answering": (Hang(30), "", "timed out"),
    # a few words, then nothing (the connection stays open)
    "stalls mid-answer": (Stall(PARTIAL, 30), PARTIAL, "timed out"),
    # a few words, then the connection closes without the end of the answer
    "hangs up mid-answer": (Stall(PARTIAL, 0), PARTIAL, "ended the stream before the answer was complete"),
}


@pytest.fixture(params=["anthropic", "openai_compatible"])
def llm(request, make_fault_app, fake_anthropic, fake_openai):
    return make_llm_app(request.param, make_fault_app, fake_anthropic, fake_openai)


def make_llm_app(provider, make_fault_app, fake_anthropic, fake_openai, **settings):
    if provider == "anthropic":
        app = make_fault_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_MODEL="claude-test",
                             ANTHROPIC_BASE_URL=fake_anthropic.base_url, LLM_TIMEOUT=LLM_TIMEOUT, LLM_MAX_RETRIES=0,
                             **settings)
        return app, fake_anthropic
    app = make_fault_app(LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL=fake_openai.base_url,
                         OPENAI_MODEL="local-model", LLM_TIMEOUT=LLM_TIMEOUT, **settings)
    return app, fake_openai


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_an_llm_that_hangs_or_drops_ends_the_stream_with_an_error_frame(llm, behaviour):
    app, fake = llm
    fault, partial, expected = BEHAVIOURS[behaviour]
    client = app.test_client()
    owner = {"X-Owner-Token": OWNER_PREFIX + "llm-" + behaviour.replace(" ", "-")}
    fake.enqueue(fault)

    started = time.monotonic()
    response = client.post("/stream", json={"question": "How long until a refund reaches my card?"}, headers=owner)
    frames = sse_frames(response.get_data(as_text=True))
    took = time.monotonic() - started

    assert response.status_code == 200
    assert took < LLM_TIMEOUT + 10, took  # the SDK is imported on the first question: a slow CI box needs the margin
    error = frames[-1]
    assert error["type"] == "error" and expected in error["error"], frames
    assert "".join(f["answer"] for f in frames if f["type"] == "answer") == partial
    assert not [f for f in frames if f["type"] in ("source", "end")]
    message = client.get(f"/api/conversations/{error['conversation_id']}", headers=owner).get_json()["messages"][0]
    assert message["id"] == error["message_id"]
    assert message["status"] == "failed" and expected in message["error"] and message["answer"] == partial
    assert not any(source["shown"] for source in message["sources"])

    fake.enqueue(Reply("Five business days [1]."))
    frames = sse_frames(client.post("/stream", json={"question": "And refunds?"}, headers=owner).get_data(as_text=True))
    assert "".join(f["answer"] for f in frames if f["type"] == "answer") == "Five business days [1]."
    assert frames[-1]["type"] == "end"


@pytest.mark.parametrize("provider", ["anthropic", "openai_compatible"])
def test_an_llm_that_trickles_words_is_cut_off_at_the_deadline(provider, make_fault_app, fake_anthropic, fake_openai):
    """A word every 0.2 s never trips LLM_TIMEOUT (1 s of silence); LLM_DEADLINE bounds the whole answer."""
    app, fake = make_llm_app(provider, make_fault_app, fake_anthropic, fake_openai, LLM_DEADLINE=2)
    client = app.test_client()
    owner = {"X-Owner-Token": OWNER_PREFIX + "trickle-" + provider}
    text = " ".join(f"word{i}" for i in range(100))  # 20 s at 0.2 s a piece
    fake.enqueue(Slow(text, 0.2))

    started = time.monotonic()
    frames = sse_frames(client.post("/stream", json={"question": "Tell me everything"}, headers=owner)
                        .get_data(as_text=True))
    took = time.monotonic() - started

    assert took < 2 + LLM_TIMEOUT + 5, (took, frames[-2:])
    error = frames[-1]
    assert error["type"] == "error" and "LLM_DEADLINE" in error["error"], frames[-3:]
    partial = "".join(f["answer"] for f in frames if f["type"] == "answer")
    assert partial.startswith("word0 word1") and len(partial) < len(text)
    message = client.get(f"/api/conversations/{error['conversation_id']}", headers=owner).get_json()["messages"][0]
    assert message["status"] == "failed" and "LLM_DEADLINE" in message["error"] and message["answer"] == partial

    fake.enqueue(Reply("Five business days [1]."))
    frames = sse_frames(client.post("/stream", json={"question": "And refunds?"}, headers=owner).get_data(as_text=True))
    assert frames[-1]["type"] == "end"
