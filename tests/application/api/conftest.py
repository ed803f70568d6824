"""One container (``DocsTune``) on the real bundled model for the whole API test session (documents
ingested once); each test builds its own cheap app around it with the settings it needs."""
from __future__ import annotations

import pytest

from tests.conftest import app_factory, write_docs

ADMIN_TOKEN = "test-admin-token-0123456789"


@pytest.fixture(scope="session")
def chat_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("chat") / "data"


@pytest.fixture(scope="session")
def chat_services(chat_data_dir, tmp_path_factory):
    from application.container import DocsTune
    from application.settings import Settings

    services = DocsTune(Settings(DATA_DIR=chat_data_dir))
    report = services.documents.ingest_paths([write_docs(tmp_path_factory.mktemp("docs"))])
    assert report.ok and len(report.added) == 3
    yield services
    services.close()


@pytest.fixture
def make_app(chat_services, chat_data_dir):
    from application.settings import Settings

    base = {"DATA_DIR": chat_data_dir, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT_ENABLED": False,
            "LLM_PROVIDER": "extractive", "ANTHROPIC_API_KEY": ""}
    with app_factory(chat_services, lambda **overrides: Settings(**{**base, **overrides})) as make:
        yield make


@pytest.fixture
def app(make_app):
    """The default app of pytest-flask's ``client``: offline extractive answers, no rate limits."""
    return make_app()


@pytest.fixture
def claude_app(make_app, fake_anthropic):
    """Answers come from the real anthropic SDK talking to the local fake Messages API."""
    return make_app(
        LLM_PROVIDER="anthropic",
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_MODEL="claude-test",
        ANTHROPIC_BASE_URL=fake_anthropic.base_url,
        LLM_MAX_RETRIES=0,
        LLM_TIMEOUT=1.5,
    )


@pytest.fixture
def admin_headers():
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
