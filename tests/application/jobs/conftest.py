"""Containers (``DocsTune``) on their own temp data folder, with documents, for job tests."""
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
    from application.container import DocsTune

    built = []

    def make(**overrides):
        services = DocsTune(make_settings(**overrides))
        built.append(services)
        return services

    yield make
    for services in reversed(built):
        services.close()


@pytest.fixture
def indexed_services(make_services, docs_dir):
    services = make_services(JOBS_WORKER="off")
    services.documents.ingest_paths([docs_dir])
    return services


__all__ = ["many_docs", "write_docs"]


TOKEN = "jobs-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
OWNER = {"X-Owner-Token": "a-person-who-rates-answers"}


@pytest.fixture
def corpus_app(make_services, tmp_path, request):
    from application import create_app
    from application.api import close_app

    param = getattr(request, "param", "immediate")  # a JOBS_WORKER mode, or a dict of settings
    overrides = {"JOBS_WORKER": param} if isinstance(param, str) else {"JOBS_WORKER": "immediate", **param}
    services = make_services(**{"ADMIN_TOKEN": TOKEN, "RATE_LIMIT_ENABLED": False, "LLM_PROVIDER": "extractive",
                                "RETRAIN_MIN_NEW_FEEDBACK": 3, **overrides})
    services.documents.ingest_paths([write_docs(tmp_path / "corpus", many_docs(24, sentences=2))])
    app = create_app(services.settings, services=services)
    yield app.test_client(), services
    close_app(app)


def rate_answers(client, count: int) -> list[str]:
    """Ask about ``count`` gadgets; mark the chunk that names the gadget relevant, the others irrelevant."""
    rated = []
    for i in range(count):
        body = client.post("/api/answer", headers=OWNER,
                           json={"question": f"Where is the zq{i}x1 gadget stored?", "chunks": 3}).get_json()
        marks = {s["chunk_id"]: ("relevant" if f"zq{i}x1" in s["text"] else "irrelevant") for s in body["sources"]}
        verdict = "like" if "relevant" in marks.values() else "dislike"
        response = client.post("/api/feedback", headers=OWNER,
                               json={"message_id": body["message_id"], "feedback": verdict, "sources": marks})
        assert response.status_code == 200, response.get_json()
        rated.append(body["message_id"])
    return rated
