"""An install from before Qdrant Edge (vectors in a qdrant-client local-mode folder) upgrades itself:
the old folder keeps serving, a re-index from SQL builds the Edge shard, the alias switches, and
only then are the old files removed. Nothing stored is lost on the way."""
from __future__ import annotations

import logging
import time

import pytest

from application.db import Database
from application.retrieval.index import open_active_index
from application.ingest.chunking import Chunker
from application.ingest.pipeline import Ingestor
from application.vectorstore import LEGACY_PREFIX
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


def test_the_old_folder_serves_until_the_reindex_into_edge_then_is_removed(old_install, tmp_path, caplog):
    from application.services import Services

    settings, before = old_install
    folder = settings.qdrant_path_resolved
    services = Services(settings)
    try:
        with caplog.at_level(logging.WARNING, logger="application.retrieval.index"):
            index = services.index
        assert index.collection == LEGACY_PREFIX + before["collection"]
        assert index.pending is index.embeddings  # the re-index into Edge is what is pending
        upgrade_lines = [r.getMessage() for r in caplog.records if "Upgrading the vector index" in r.getMessage()]
        assert len(upgrade_lines) == 1 and "docstune reindex" in upgrade_lines[0], upgrade_lines

        # searches go on, answered by the old folder, with the same ranking as before the upgrade
        assert [h.chunk_id for h in services.search(QUESTIONS[0], k=3)] == before["top"]
        assert services.ready()["ok"] is True
        # what is ingested meanwhile is not lost: it goes to the collection that serves
        services.ingest_paths([write_docs(tmp_path / "more", {"holidays.md": "# Holidays\n\nThe office closes "
                                                                             "between Christmas and New Year."})])
        assert services.search("When does the office close for the holidays?", k=1)[0].title == "Holidays"
        assert services.vector_store.count(index.collection) == before["count"] + 1
        # the old folder has no lexical vectors: the dense leg alone serves meanwhile
        assert services.serving.retrieve(QUESTIONS[1], k=4).fusion.mode == "dense"
        during = {h.chunk_id: round(h.score, 4) for h in services.search(QUESTIONS[1], k=4)}

        name = services.serving.reindex()  # what the job runs
    finally:
        services.close()

    assert name == before["collection"]
    # the old files are gone, the shard serves; reopening finds a plain Edge install
    assert not (folder / "meta.json").exists() and not (folder / "collection").exists()
    assert (folder / "shards" / name).is_dir()
    services = Services(settings)
    try:
        assert services.index.collection == name and services.index.pending is None
        assert services.vector_store.count(name) == services.chunk_count() == before["count"] + 1
        # the same dense scores (the vectors were rebuilt from the same text), and now the lexical leg too
        after = services.serving.retrieve(QUESTIONS[1], k=4)
        assert after.fusion.mode == "hybrid" and services.index.lexical_ready
        assert {h.chunk_id: round(h.dense_score, 4) for h in after.hits} == during
        assert any(h.lexical_score for h in after.hits)
    finally:
        services.close()


def test_docstune_serve_upgrades_by_a_job_with_progress(old_install):
    from application import create_app
    from application.api import close_app

    settings, before = old_install
    # the dense leg alone, before and after: the same vectors must give the same ranking (a hybrid search
    # after the upgrade would rank by more than the vectors this test compares)
    settings = settings.model_copy(update={"jobs_worker": "thread", "admin_token": "upgrade-test-admin-token",
                                           "rate_limit_enabled": False, "retrieval_mode": "dense"})
    app = create_app(settings)
    try:
        services = app.extensions["docstune"].services
        client = app.test_client()
        # starting the app started the re-index job; the old folder answers meanwhile
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
        assert job["progress"]["done"] == job["progress"]["total"] == before["count"]
        assert services.index.collection == before["collection"]
        assert not (settings.qdrant_path_resolved / "meta.json").exists()
        again = client.post("/api/search", json={"question": QUESTIONS[0], "chunks": 3})
        assert [h["chunk_id"] for h in again.get_json()] == before["top"]
        assert [h["chunk_id"] for h in found.get_json()] == before["top"]
    finally:
        close_app(app)
