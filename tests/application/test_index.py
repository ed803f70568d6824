"""The active collection must belong to the configured model; mismatches fail loudly."""
import pytest

from application.errors import IndexMismatchError
from application.container import DocsTune
from application.readiness import readiness
from tests.plugins.test_registry import tiny_plugin  # noqa: F401  (fixture)


def test_a_fresh_install_creates_the_model_collection_behind_the_alias(services):
    index = services.serving.current
    assert index.collection == f"chunks__{services.models.configured().fingerprint}"
    assert services.vector_store.alias_target("chunks_active") == index.collection


def test_another_configured_model_is_pending_while_the_old_collection_serves_with_its_own_model(
    make_settings, docs_dir, tiny_plugin  # noqa: F811
):
    first = DocsTune(make_settings())
    first.documents.ingest_paths([docs_dir])
    first.close()

    other = DocsTune(make_settings(EMBEDDINGS_NAME=tiny_plugin))
    try:
        index = other.serving.current
        # the old collection keeps answering, with the model that made it, never with the 64-d one
        assert index.collection.startswith("chunks__all-minilm") and index.embeddings.name == "all-MiniLM-L6-v2"
        assert index.pending is not None and index.pending.fingerprint == "tiny-hashing-v1"
        assert other.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
        pending = readiness(other)["embeddings"]["pending"]
        assert pending["fingerprint"] == "tiny-hashing-v1"
        # re-index with the new model, and search works on it
        other.serving.reindex()
        assert other.serving.current.collection == "chunks__tiny-hashing-v1" and other.serving.current.pending is None
        assert other.vector_store.count(other.serving.current.collection) == other.documents.chunk_count() > 0
        assert other.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
        # the old collection is kept for a rollback
        assert any(name.startswith("chunks__all-minilm") for name in other.vector_store.list_collections())
    finally:
        other.close()


def test_stored_chunks_without_vectors_ask_for_a_reindex(make_settings, docs_dir):
    import shutil

    settings = make_settings()
    first = DocsTune(settings)
    first.documents.ingest_paths([docs_dir])
    first.close()
    shutil.rmtree(settings.qdrant_path_resolved)
    second = DocsTune(settings)
    try:
        with pytest.raises(IndexMismatchError, match="docstune reindex"):
            second.serving.search("refunds")
        second.serving.reindex()
        assert second.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
    finally:
        second.close()


def test_a_second_process_on_the_same_local_folder_gets_a_clear_error(make_settings, services):
    import subprocess
    import sys

    services.serving.current  # this process now holds the Qdrant folder
    code = (
        "from application.container import build_container\n"
        "from application.settings import Settings\n"
        f"s = build_container(Settings(DATA_DIR={str(services.settings.data_dir)!r}))\n"
        "try:\n    s.vector_store\nexcept Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "ServiceUnavailable" in out and "in use by another DocsTune process" in out and "QDRANT_URL" in out
