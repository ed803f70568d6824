"""The active collection must belong to the configured model; mismatches fail loudly."""
import pytest

from application.errors import IndexMismatchError
from application.services import Services
from tests.plugins.test_registry import tiny_plugin  # noqa: F401  (fixture)


def test_a_fresh_install_creates_the_model_collection_behind_the_alias(services):
    index = services.index
    assert index.collection == f"chunks__{services.embeddings.fingerprint}"
    assert services.vector_store.alias_target("chunks_active") == index.collection


def test_another_configured_model_is_pending_while_the_old_collection_serves_with_its_own_model(
    make_settings, docs_dir, tiny_plugin  # noqa: F811
):
    first = Services(make_settings())
    first.ingest_paths([docs_dir])
    first.close()

    other = Services(make_settings(EMBEDDINGS_NAME=tiny_plugin))
    try:
        index = other.index
        # the old collection keeps answering, with the model that made it, never with the 64-d one
        assert index.collection.startswith("chunks__all-minilm") and index.embeddings.name == "all-MiniLM-L6-v2"
        assert index.pending is not None and index.pending.fingerprint == "tiny-hashing-v1"
        assert other.search("refund within 30 days", k=1)[0].title == "Refund policy"
        pending = other.ready()["embeddings"]["pending"]
        assert pending["fingerprint"] == "tiny-hashing-v1"
        # re-index with the new model, and search works on it
        other.serving.reindex()
        assert other.index.collection == "chunks__tiny-hashing-v1" and other.index.pending is None
        assert other.vector_store.count(other.index.collection) == other.chunk_count() > 0
        assert other.search("refund within 30 days", k=1)[0].title == "Refund policy"
        # the old collection is kept for a rollback
        assert any(name.startswith("chunks__all-minilm") for name in other.vector_store.list_collections())
    finally:
        other.close()


def test_stored_chunks_without_vectors_ask_for_a_reindex(make_settings, docs_dir):
    import shutil

    settings = make_settings()
    first = Services(settings)
    first.ingest_paths([docs_dir])
    first.close()
    shutil.rmtree(settings.qdrant_path_resolved)
    second = Services(settings)
    try:
        with pytest.raises(IndexMismatchError, match="docstune reindex"):
            second.search("refunds")
        second.serving.reindex()
        assert second.search("refund within 30 days", k=1)[0].title == "Refund policy"
    finally:
        second.close()


def test_a_second_process_on_the_same_local_folder_gets_a_clear_error(make_settings, services):
    import subprocess
    import sys

    services.index  # this process now holds the Qdrant folder
    code = (
        "from application.services import build_services\n"
        "from application.settings import Settings\n"
        f"s = build_services(Settings(DATA_DIR={str(services.settings.data_dir)!r}))\n"
        "try:\n    s.vector_store\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "ServiceUnavailable" in out and "in use by another DocsTune process" in out and "QDRANT_URL" in out
