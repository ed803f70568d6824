"""Switching EMBEDDINGS_BACKEND (torch -> onnx-int8) is a model swap: a new collection, a re-index, then the switch."""
from application.container import DocsTune
from tests.application.swap.test_swap import serves_back_at_once


def test_switching_to_the_int8_encoder_reindexes_and_serves_the_old_index_meanwhile(make_settings, docs_dir):
    first = DocsTune(make_settings())
    first.documents.ingest_paths([docs_dir])
    old = first.serving.current.collection
    first.close()

    services = DocsTune(make_settings(EMBEDDINGS_BACKEND="onnx-int8", JOBS_WORKER="off"))
    try:
        index = services.serving.current
        pending = services.serving.pending_work()
        # the same model name, another encoder: its own fingerprint, so its own collection
        assert pending is not None and pending.backend == "onnx-int8" and pending.fingerprint not in old
        # meanwhile the torch collection serves with the torch encoder that made it
        assert index.collection == old and index.embeddings.backend == "torch"
        assert services.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"

        services.jobs.start_pending_reindex()
        queued = services.jobs.store.list(kind="reindex")
        assert len(queued) == 1 and queued[0]["status"] == "queued"
        services.jobs.start_worker()
        assert services.jobs.store.wait(queued[0]["id"], timeout=180)["status"] == "done"

        current = services.serving.current
        assert current.embeddings.backend == "onnx-int8" and current.pending is None
        assert "onnx-int8" in current.collection and current.collection != old
        assert services.vector_store.alias_target() == current.collection
        assert services.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
    finally:
        services.close()

    # and back to torch: its collection is complete, so it serves at once, with no job
    serves_back_at_once(make_settings(JOBS_WORKER="off"), old)
