"""An install from before Qdrant Edge (vectors in a qdrant-client local-mode folder) upgrades itself
when it opens: its index is copied into Edge once, searches answer as before, the old files are kept
aside, and the re-index that `docstune serve` starts adds the lexical vectors. Nothing stored is lost."""
from __future__ import annotations

import logging
import time

import pytest

from application.db import Database
from application.retrieval.index import open_active_index
from application.ingest.chunking import Chunker
from application.ingest.pipeline import Ingestor
from application.vectorstore.local_mode_upgrade import BACKUP_DIR
from application.vectorstore.qdrant import QdrantVectorStore
from tests.conftest import write_docs

QUESTIONS = ["How long do refunds take?", "Where does the office cat sleep?", "How much is express shipping?"]


def make_local_mode_install(settings, docs_dir) -> dict:
    """What DocsTune wrote before Edge: SQL rows, and the vectors and alias in local mode."""
    from plugins import load_embeddings

    embeddings = load_embeddings(settings.embeddings_name)
    db = Database(settings.database_url_resolved)
    import application.db.jobs  # noqa: F401
    import application.db.models  # noqa: F401

    db.migrate()
    store = QdrantVectorStore.open_local_folder(settings.qdrant_path_resolved)
    try:
        index = open_active_index(db, store, embeddings)
        Ingestor(db, store, lambda: index, lambda e: Chunker(e, settings.chunk_tokens, settings.chunk_overlap_tokens)
                 ).ingest_paths([docs_dir])
        vector = embeddings.embed_query(QUESTIONS[0])
        return {"collection": index.collection, "count": store.count(index.collection),
                "top": [p.id for p in store.search(index.collection, vector, 3)]}
    finally:
        store.close()
        db.dispose()


@pytest.fixture
def old_install(make_settings, docs_dir):
    settings = make_settings(JOBS_WORKER="off")
    before = make_local_mode_install(settings, docs_dir)
    assert (settings.qdrant_path_resolved / "meta.json").is_file()
    return settings, before


def upgrade_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "the vector index" in r.getMessage()
            and r.name == "application.vectorstore.local_mode_upgrade"]


def test_the_old_index_is_copied_into_edge_once_and_answers_as_before(old_install, tmp_path, caplog):
    from application.container import DocsTune
    from application.readiness import readiness

    settings, before = old_install
    folder = settings.qdrant_path_resolved
    services = DocsTune(settings)
    try:
        with caplog.at_level(logging.WARNING):
            index = services.serving.current
        # the same collection (the database's record of it holds), served by Edge, nothing pending but its
        # lexical vectors (the old folder has none): those are what the re-index at start-up fills
        assert index.collection == before["collection"] and index.pending is None and index.lexical_pending
        lines = upgrade_lines(caplog)
        assert len(lines) == 2 and lines[0].startswith("Upgrading the vector index"), lines
        assert f"{before['count']} point(s)" in lines[1] and BACKUP_DIR in lines[1] \
            and "docstune reindex" in lines[1], lines
        assert not (folder / "meta.json").exists() and not (folder / "collection").exists()
        assert (folder / "shards" / before["collection"]).is_dir()

        # the same vectors: the same ranking as before the upgrade, at once
        assert [h.chunk_id for h in services.serving.search(QUESTIONS[0], k=3)] == before["top"]
        assert readiness(services)["ok"] is True
        services.documents.ingest_paths([write_docs(tmp_path / "more", {"holidays.md": "# Holidays\n\nThe office closes "
                                                                             "between Christmas and New Year."})])
        assert services.serving.search("When does the office close for the holidays?", k=1)[0].title == "Holidays"
        assert services.vector_store.count(index.collection) == before["count"] + 1
        # no lexical vectors yet: the dense leg alone serves meanwhile
        assert services.serving.retrieve(QUESTIONS[1], k=4).fusion.mode == "dense"
        during = {h.chunk_id: round(h.dense_score, 4) for h in services.serving.retrieve(QUESTIONS[1], k=4).hits}

        name = services.serving.reindex()  # what the job runs
    finally:
        services.close()

    assert name == before["collection"]
    caplog.clear()
    services = DocsTune(settings)
    try:
        with caplog.at_level(logging.WARNING):
            assert services.serving.current.collection == name and services.serving.current.pending is None
        assert upgrade_lines(caplog) == []  # once: reopening finds a plain Edge install
        assert services.vector_store.count(name) == services.documents.chunk_count() == before["count"] + 1
        after = services.serving.retrieve(QUESTIONS[1], k=4)
        assert after.fusion.mode == "hybrid" and services.serving.current.lexical_ready
        assert {h.chunk_id: round(h.dense_score, 4) for h in after.hits} == during
        assert any(h.lexical_score for h in after.hits)
    finally:
        services.close()
    # the old files, aside, are still a local-mode index an older DocsTune can serve
    backup = QdrantVectorStore.open_local_folder(folder / BACKUP_DIR)
    try:
        assert backup.count(before["collection"]) == before["count"]
    finally:
        backup.close()


def test_docstune_serve_upgrades_then_fills_the_lexical_vectors_by_a_job(old_install):
    from application import create_app
    from application.api import close_app

    settings, before = old_install
    # the dense leg alone, before and after: the same vectors must give the same ranking (a hybrid search
    # after the upgrade would rank by more than the vectors this test compares)
    settings = settings.model_copy(update={"jobs_worker": "thread", "admin_token": "upgrade-test-admin-token",
                                           "rate_limit_enabled": False, "retrieval_mode": "dense"})
    app = create_app(settings)
    try:
        services = app.extensions["docstune"]
        client = app.test_client()
        # starting the app copied the old index into Edge and started the re-index job (the lexical
        # vectors); searches answer meanwhile
        found = client.post("/api/search", json={"question": QUESTIONS[0], "chunks": 3})
        assert found.status_code == 200, found.get_json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            jobs = services.jobs.store.list(limit=5, kind="reindex")
            if jobs and jobs[0]["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        job = jobs[0]
        assert job["status"] == "done", job
        assert job["progress"]["done"] == job["progress"]["total"] > 0
        assert services.serving.current.collection == before["collection"] and services.serving.current.lexical_ready
        assert services.vector_store.count(before["collection"]) == before["count"]
        assert not (settings.qdrant_path_resolved / "meta.json").exists()
        again = client.post("/api/search", json={"question": QUESTIONS[0], "chunks": 3})
        assert [h["chunk_id"] for h in again.get_json()] == before["top"]
        assert [h["chunk_id"] for h in found.get_json()] == before["top"]
    finally:
        close_app(app)
