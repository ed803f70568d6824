"""Swapping the embedding model with no downtime: snapshots, config swaps, ingestion during a re-index."""
import importlib
import threading
import time

import pytest

from application.errors import Conflict, IndexMismatchError
from application.container import DocsTune
from application.readiness import readiness
from tests.application.jobs.conftest import many_docs, write_docs
from tests.plugins.test_registry import tiny_plugin  # noqa: F401  (fixture)



def serves_back_at_once(settings, old: str) -> None:
    """Configured back to a model whose collection is complete: it serves at once, and no re-index is queued."""
    again = DocsTune(settings)
    try:
        assert again.jobs.start_pending_reindex() is None
        assert again.serving.current.collection == old and again.serving.current.pending is None
        assert again.jobs.store.list(kind="reindex", statuses=("queued",)) == []
    finally:
        again.close()

def _exact_text_searches(services, texts, stop, seen, errors):
    """Search each chunk's own text: with the collection's own model it comes back first with score ~1."""
    while not stop.is_set():
        for chunk_id, text in texts:
            try:
                index = services.serving.current
                hit = services.serving.search(text, k=1)[0]
                seen.add(index.collection)
                if hit.chunk_id != chunk_id or hit.score < 0.999:
                    errors.append(f"{text[:30]!r}: got {hit.chunk_id} score {hit.score}")
            except Exception as exc:
                errors.append(repr(exc))


def test_searches_during_a_swap_never_mix_models(indexed_services, tiny_plugin):  # noqa: F811
    services = indexed_services
    from sqlalchemy import select

    from application.db.models import Chunk

    with services.db.session() as session:
        texts = list(session.execute(select(Chunk.id, Chunk.text)))
    before = services.serving.current.collection
    stop, seen, errors = threading.Event(), set(), []
    threads = [threading.Thread(target=_exact_text_searches, args=(services, texts, stop, seen, errors))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        services.serving.reindex(model_name=tiny_plugin)  # 384-d MiniLM → 64-d hashing, while searches run
        time.sleep(0.3)
        services.serving.rollback()  # and back, at once
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert not errors, errors[:5]
    assert seen == {before, "chunks__tiny-hashing-v1"}  # searches ran on both sides of each swap
    assert services.serving.current.collection == before == services.vector_store.alias_target()


def test_ingestion_during_a_reindex_loses_no_chunk(make_services, tmp_path, tiny_plugin):  # noqa: F811
    # serving: the hashing model; building: its gated twin, held after two batches, so the ingestion
    # and the deletion land in the middle of the build, whatever the machine's speed
    gate = importlib.import_module("docstune_tiny")  # the plugin module the registry loaded
    services = make_services(JOBS_WORKER="thread", EMBEDDINGS_NAME=tiny_plugin, INGEST_BATCH_SIZE=4)
    services.documents.ingest_paths([write_docs(tmp_path / "first", many_docs(40))])
    runtime = services.jobs
    runtime.start_worker()
    job = runtime.submit("reindex", {"model": "tiny-hashing-gated"})
    try:
        assert gate.HELD.wait(60), runtime.store.get(job["id"])
        assert services.vector_store.count("chunks__tiny-hashing-gated-v1") == 8  # two batches of four are in

        late = {f"late{i}.md": f"# Late {i}\n\nThe walrus number {i} arrived during the re-index." for i in range(3)}
        report = services.documents.ingest_paths([write_docs(tmp_path / "late", late)])
        assert runtime.store.get(job["id"])["status"] == "running"  # it really was during the build
        services.documents.delete(str(tmp_path / "first" / "note000.txt"))
    finally:
        gate.HOLD.set()
    done = runtime.store.wait(job["id"], timeout=120)

    assert done["status"] == "done" and len(report.added) == 3
    from sqlalchemy import select

    from application.db.models import Chunk

    with services.db.session() as session:
        stored = set(session.scalars(select(Chunk.id)))
    serving = services.serving.current.collection
    assert serving == "chunks__tiny-hashing-gated-v1"
    assert services.vector_store.point_ids(serving) == stored
    assert services.serving.search("When did the walrus number 2 arrive?", k=1)[0].title == "Late 2"


def test_a_config_swap_keeps_answering_with_the_old_model_until_the_new_index_is_complete(
    make_settings, docs_dir, model_b
):
    first = DocsTune(make_settings())
    first.documents.ingest_paths([docs_dir])
    old = first.serving.current.collection
    first.close()

    services = DocsTune(make_settings(EMBEDDINGS_NAME=str(model_b), JOBS_WORKER="off"))
    try:
        index = services.serving.current  # reading starts nothing
        assert services.jobs.store.list(kind="reindex") == []
        assert services.serving.pending_work().name == str(model_b)
        services.jobs.start_pending_reindex()  # what start-up does: the pending model gets its re-index job
        assert index.collection == old and index.embeddings.name == "all-MiniLM-L6-v2"
        ready = readiness(services)
        assert ready["ok"] and ready["embeddings"]["pending"]["name"] == str(model_b)
        queued = services.jobs.store.list(kind="reindex")
        assert len(queued) == 1 and queued[0]["status"] == "queued" and queued[0]["params"]["model"] == str(model_b)
        assert services.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"

        services.jobs.start_worker()
        assert services.jobs.store.wait(queued[0]["id"], timeout=120)["status"] == "done"

        assert services.serving.current.embeddings.name == str(model_b) and services.serving.current.pending is None
        assert services.vector_store.alias_target() == services.serving.current.collection != old
        assert services.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
    finally:
        services.close()

    # and back: the old model's collection is complete, so it serves at once, with no job
    serves_back_at_once(make_settings(JOBS_WORKER="off"), old)


def test_a_serving_model_that_can_no_longer_be_loaded_fails_loudly_naming_both_models(
    make_settings, docs_dir, model_b
):
    import shutil

    first = DocsTune(make_settings(EMBEDDINGS_NAME=str(model_b)))
    first.documents.ingest_paths([docs_dir])
    first.close()
    shutil.rmtree(model_b)
    from plugins.registry import clear_instances

    clear_instances()  # what a restart does: nothing loaded yet

    services = DocsTune(make_settings())
    try:
        with pytest.raises(IndexMismatchError) as excinfo:
            services.serving.search("refunds")
        message = str(excinfo.value)
        assert str(model_b) in message and "all-MiniLM-L6-v2" in message and "docstune reindex" in message
    finally:
        services.close()


def test_rollback_with_nothing_to_roll_back_to_is_refused_and_serving_is_unchanged(indexed_services):
    before = indexed_services.serving.current.collection
    with pytest.raises(Conflict, match="Nothing to roll back to"):
        indexed_services.serving.rollback()
    assert indexed_services.serving.current.collection == before


def test_only_swap_keep_previous_collections_are_kept(make_services, docs_dir, model_b, tiny_plugin):  # noqa: F811
    services = make_services(SWAP_KEEP_PREVIOUS=1, JOBS_WORKER="off")
    services.documents.ingest_paths([docs_dir])
    first = services.serving.current.collection
    services.serving.reindex(model_name=tiny_plugin)
    services.serving.reindex(model_name=str(model_b))

    names = services.vector_store.list_collections()
    assert "chunks__tiny-hashing-v1" in names and first not in names
    assert services.serving.rollback().collection == "chunks__tiny-hashing-v1"
