"""Local fake LLM servers (real HTTP on 127.0.0.1) shared by the LLM and API tests."""
import pytest

from tests.application.llm.fake_llm_servers import FakeAnthropicServer, FakeOpenAIServer


@pytest.fixture
def fake_anthropic():
    server = FakeAnthropicServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()
