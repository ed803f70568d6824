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
