"""Hybrid retrieval in the service: every chunk has a lexical (BM25) vector beside its dense one, in
the embedded engine; ingest, delete, re-index, swap and rollback keep them right; a search fuses
both legs and says what ran; a collection without (complete) lexical vectors serves dense-only
until a re-index of that same collection fills them."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from application.db.models import Chunk, VectorCollection
from application.container import DocsTune
from tests.conftest import write_docs
from tests.plugins.test_registry import tiny_plugin  # noqa: F401  (fixture)
from tests.qdrant_stub import QdrantStub

# a part number: a dense model has no idea what it means, BM25 matches it exactly
CODES = {"parts.md": "# Spare parts\n\nThe replacement hinge for the cabinet door is part QX-7731-B, "
                     "sold in packs of four.\n"}


def lexical_ids(services: DocsTune, collection: str, question: str, k: int = 5) -> list[str]:
    sparse = services.models.lexical().embed_query(question)
    return [p.id for p in services.vector_store.search_lexical(collection, sparse, k)]


def chunk_ids(services: DocsTune) -> set[str]:
    with services.db.session() as session:
        return set(session.scalars(select(Chunk.id)))


def test_a_new_install_serves_hybrid_and_each_hit_has_both_legs_scores(services, docs_dir, tmp_path):
    services.documents.ingest_paths([docs_dir, write_docs(tmp_path / "parts", CODES)])

    retrieval = services.serving.retrieve("QX-7731-B", k=3)

    assert retrieval.fusion.mode == "hybrid" and services.serving.current.lexical_ready
    assert retrieval.pipeline["lexical_version"] == services.models.lexical().version
    top = retrieval.hits[0]
    assert top.title == "Spare parts" and top.lexical_score > 0 and top.dense_score is not None
    # every chunk has its lexical vector: each is found by a word only it has
    assert set(lexical_ids(services, services.serving.current.collection, "QX-7731-B")) <= chunk_ids(services)
    assert lexical_ids(services, services.serving.current.collection, "Miso keyboards")[:1] == [
        h.chunk_id for h in services.serving.search("office cat Miso", k=1)]


def test_lexical_and_dense_modes_use_one_leg_only(make_settings, docs_dir, tmp_path):
    for mode, leg in (("lexical", "lexical_score"), ("dense", "dense_score")):
        services = DocsTune(make_settings(RETRIEVAL_MODE=mode))
        try:
            services.documents.ingest_paths([docs_dir, write_docs(tmp_path / "parts", CODES)])
            hits = services.serving.search("QX-7731-B", k=2)
            assert all(getattr(h, leg) is not None for h in hits)
            other = "dense_score" if leg == "lexical_score" else "lexical_score"
            assert all(getattr(h, other) is None for h in hits)
        finally:
            services.close()


def test_a_per_source_search_filters_both_legs(services, docs_dir, tmp_path):
    services.documents.ingest_paths([docs_dir, write_docs(tmp_path / "parts", CODES)])
    refunds = next(s["id"] for s in services.documents.list() if s["title"] == "Refund policy")

    hits = services.serving.search("QX-7731-B hinge part", k=5, source_ids=[refunds])

    assert hits and {h.source_id for h in hits} == {refunds}


def test_deleting_a_source_removes_its_lexical_vectors(services, docs_dir, tmp_path):
    services.documents.ingest_paths([docs_dir, write_docs(tmp_path / "parts", CODES)])
    collection = services.serving.current.collection
    assert lexical_ids(services, collection, "QX-7731-B")

    services.documents.delete(next(s["id"] for s in services.documents.list() if s["title"] == "Spare parts"))

    assert lexical_ids(services, collection, "QX-7731-B") == []
    assert services.serving.search("QX-7731-B", k=1)[0].title != "Spare parts"


@pytest.fixture(params=["edge", "server"])
def engine(request):
    """Settings for the embedded engine, or for a Qdrant server (the protocol stub over real HTTP)."""
    if request.param == "edge":
        yield {}
        return
    server = QdrantStub().start()
    yield {"QDRANT_URL": server.url}
    server.stop()


def test_ingest_delete_reindex_swap_and_rollback_keep_the_lexical_vectors(
        make_settings, docs_dir, tmp_path, tiny_plugin, engine):  # noqa: F811
    first = DocsTune(make_settings(**engine))
    first.documents.ingest_paths([docs_dir])
    first.close()
    services = DocsTune(make_settings(EMBEDDINGS_NAME=tiny_plugin, **engine))
    try:
        old = services.serving.current.collection
        # ingested while the new model's collection is pending: goes to the serving one, and to the next
        services.documents.ingest_paths([write_docs(tmp_path / "parts", CODES)])
        new = services.serving.reindex()
        assert new != old and services.serving.current.lexical_ready
        assert services.serving.retrieve("QX-7731-B", k=1).fusion.mode == "hybrid"
        assert services.serving.search("QX-7731-B", k=1)[0].title == "Spare parts"
        assert set(services.vector_store.point_ids(new)) == chunk_ids(services)

        services.documents.ingest_paths([write_docs(tmp_path / "more", {"fees.md": "# Fees\n\nLate fee code ZR-1180 applies."})])
        services.serving.rollback()  # the old collection catches up with the chunk added since, lexical vector included
        assert services.serving.current.collection == old and services.serving.current.lexical_ready
        assert lexical_ids(services, old, "ZR-1180")[:1] and services.serving.search("ZR-1180", k=1)[0].title == "Fees"
        # a deleted source takes its lexical vectors with it, from the serving and the kept collection
        services.documents.delete(next(s["id"] for s in services.documents.list() if s["title"] == "Spare parts"))
        assert lexical_ids(services, old, "QX-7731-B") == []
        assert set(services.vector_store.point_ids(old)) == chunk_ids(services)
    finally:
        services.close()


def test_a_collection_without_lexical_vectors_serves_dense_until_a_reindex_of_itself_fills_them(
        make_settings, docs_dir, caplog):
    settings = make_settings()
    first = DocsTune(settings)
    first.documents.ingest_paths([docs_dir])
    collection = first.serving.current.collection
    with first.db.session() as session:  # as a collection made before hybrid retrieval: no version
        session.get(VectorCollection, collection).lexical_version = None
    first.close()

    services = DocsTune(settings)
    try:
        index = services.serving.current
        assert not index.lexical_ready and index.lexical_pending
        assert "searches use the dense leg alone until a re-index" in caplog.text
        assert services.serving.retrieve("refund", k=2).fusion.mode == "dense"

        assert services.serving.reindex() == collection  # what the start-up job runs: the same collection
        assert services.serving.current.lexical_ready
        assert services.serving.retrieve("refund", k=2).fusion.mode == "hybrid"
        with services.db.session() as session:
            assert session.get(VectorCollection, collection).lexical_version == services.models.lexical().version
    finally:
        services.close()


def test_another_lexical_tokenizer_is_a_refill_not_a_new_collection(make_settings, docs_dir):
    settings = make_settings()
    first = DocsTune(settings)
    first.documents.ingest_paths([docs_dir])
    collection = first.serving.current.collection
    first.close()

    services = DocsTune(make_settings(LEXICAL_TOKENIZER="bm25-en-nostem"))
    try:
        assert not services.serving.current.lexical_ready and services.serving.current.lexical_pending
        assert services.serving.reindex() == collection
        assert services.serving.current.lexical_ready
        # unstemmed: "refunded" no longer matches "refund"
        assert services.serving.retrieve("refund", k=1).pipeline["lexical_version"].count("nostem") == 1
    finally:
        services.close()
