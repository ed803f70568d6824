"""Services on their own temp data folder, with documents, for job tests."""
from __future__ import annotations

import pytest

from tests.conftest import write_docs


def many_docs(count: int, sentences: int = 3) -> dict[str, str]:
    """``count`` small documents, one chunk each, distinct words so each is easy to find."""
    return {
        f"note{i:03d}.txt": f"Note {i}\n\n" + " ".join(
            f"Item {i}-{j} concerns the zq{i}x{j} gadget stored in aisle {i % 7}." for j in range(sentences))
        for i in range(count)
    }


@pytest.fixture
def make_services(make_settings):
    from application.services import Services

    built = []

    def make(**overrides):
        services = Services(make_settings(**overrides))
        built.append(services)
        return services

    yield make
    for services in reversed(built):
        services.close()


@pytest.fixture
def indexed_services(make_services, docs_dir):
    services = make_services(JOBS_WORKER="off")
    services.ingest_paths([docs_dir])
    return services


__all__ = ["many_docs", "write_docs"]
