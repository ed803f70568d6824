"""One container (real bundled model, the test documents ingested, SQLite) for the in-process
fault tests; each test builds its own cheap app around it with the settings it needs."""
from __future__ import annotations

import pytest

from tests.application.faults.helpers import ADMIN_TOKEN
from tests.conftest import app_factory, write_docs


@pytest.fixture(scope="session")
def fault_settings(tmp_path_factory):
    """Settings factory on one DATA_DIR. The database is named explicitly: the SQLite faults
    are SQLite's, also when the suite runs on PostgreSQL (DOCSTUNE_TEST_DATABASE=postgresql)."""
    from application.settings import Settings

    data_dir = tmp_path_factory.mktemp("faults") / "data"
    base = {"DATA_DIR": data_dir, "DATABASE_URL": f"sqlite:///{data_dir / 'docstune.db'}", "ADMIN_TOKEN": ADMIN_TOKEN,
            "RATE_LIMIT_ENABLED": False, "LLM_PROVIDER": "extractive", "ANTHROPIC_API_KEY": ""}
    return lambda **overrides: Settings(**{**base, **overrides})


@pytest.fixture(scope="session")
def fault_services(fault_settings, tmp_path_factory):
    from application.container import DocsTune

    services = DocsTune(fault_settings())
    assert services.documents.ingest_paths([write_docs(tmp_path_factory.mktemp("docs"))]).ok
    yield services
    services.close()


@pytest.fixture
def make_fault_app(fault_settings, fault_services):
    with app_factory(fault_services, fault_settings) as make:
        yield make
