"""The OpenAI-compatible backend (llama.cpp, Ollama, vLLM) against a local fake /v1/chat/completions."""
import pytest

from application.llm import LLMError, PromptTemplate
from application.llm.openai_compatible import OpenAICompatibleLLM
from application.retrieval.hits import SearchHit
from tests.application.llm.fake_llm_servers import Status, StreamThenError, Reply

HITS = [SearchHit("c-1", "s-1", "Refunds are paid within 14 days.", 0.8, 1, "Refunds", "r.md", None, 0)]


def test_the_answer_streams_from_chat_completions_with_the_sources_in_the_system_message(fake_openai):
    fake_openai.enqueue(Reply("Within 14 days [1]."))
    llm = OpenAICompatibleLLM(base_url=fake_openai.base_url, model="llama3", api_key="local-key", timeout=5)

    streamed = list(llm.stream(PromptTemplate.load().render("Refund time?", HITS)))

    assert "".join(streamed) == "Within 14 days [1]." and len(streamed) > 1
    request = fake_openai.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer local-key"
    messages = request["body"]["messages"]
    assert messages[0]["role"] == "system" and "[1] Refunds\nRefunds are paid within 14 days." in messages[0]["content"]
    assert messages[-1] == {"role": "user", "content": "Refund time?"}
    assert llm.name == "openai_compatible/llama3"


def test_a_refused_key_and_a_broken_stream_are_llm_errors(fake_openai):
    llm = OpenAICompatibleLLM(base_url=fake_openai.base_url, model="m", timeout=5)
    fake_openai.enqueue(Status(401, "bad key"), StreamThenError("partial"))
    prompt = PromptTemplate.load().render("q?", HITS)

    with pytest.raises(LLMError) as refused:
        llm.complete(prompt)
    with pytest.raises(LLMError) as broken:
        llm.complete(prompt)

    assert refused.value.kind == "auth" and "OPENAI_API_KEY" in refused.value.message
    assert "model crashed" in broken.value.message
