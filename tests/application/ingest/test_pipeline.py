from sqlalchemy import func, select

from application.db.models import Chunk, Source
from application.ingest.chunking import chunk_id_for


def _counts(services):
    with services.db.session() as session:
        sql = session.scalar(select(func.count()).select_from(Chunk))
    return sql, services.vector_store.count(services.serving.current.collection)


def test_a_folder_is_walked_and_every_document_becomes_searchable(services, docs_dir):
    (docs_dir / "nested").mkdir()
    (docs_dir / "nested" / "deep.md").write_text("# Parking\n\nBikes are parked in the basement garage.")
    (docs_dir / "tool.exe").write_bytes(b"MZ\x90\x00")
    report = services.documents.ingest_paths([docs_dir])
    assert sorted(p.rsplit("/", 1)[-1] for p in report.added) == ["deep.md", "office.html", "refunds.md", "shipping.txt"]
    assert [p.rsplit("/", 1)[-1] for p, _ in report.skipped] == ["tool.exe"]
    sql, vectors = _counts(services)
    assert sql == vectors >= 4

    hits = services.serving.search("Where do I park my bicycle?", k=3)
    assert hits[0].title == "Parking"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score > hits[1].score
    assert "basement" in hits[0].text and hits[0].uri.endswith("deep.md")


def test_search_can_be_limited_to_some_sources(services, docs_dir):
    services.documents.ingest_paths([docs_dir])
    shipping = next(s for s in services.documents.list() if s["uri"].endswith("shipping.txt"))
    hits = services.serving.search("refund within 30 days", k=5, source_ids=[shipping["id"]])
    assert hits and {h.source_id for h in hits} == {shipping["id"]}


def test_chunks_fit_the_model_and_overlap(make_settings, tmp_path):
    from application.container import DocsTune

    services = DocsTune(make_settings(CHUNK_TOKENS=40, CHUNK_OVERLAP_TOKENS=10))
    try:
        sentences = " ".join(f"Sentence {i} tells about topic number {i} in the handbook." for i in range(60))
        (tmp_path / "long.txt").write_text(sentences)
        services.documents.ingest_paths([tmp_path / "long.txt"])
        with services.db.session() as session:
            chunks = session.scalars(select(Chunk).order_by(Chunk.position)).all()
        assert len(chunks) > 10
        counter = services.models.configured().count_tokens
        assert all(counter(c.text) <= 40 for c in chunks)
        assert all(c.token_count == counter(c.text) for c in chunks)
        # overlap: the end of one chunk reappears at the start of the next
        assert chunks[1].text.split()[0] in chunks[0].text
    finally:
        services.close()


def test_default_chunks_never_exceed_what_the_model_reads(services, tmp_path):
    (tmp_path / "big.txt").write_text(" ".join(["tokenisation"] * 3000))
    services.documents.ingest_paths([tmp_path / "big.txt"])
    with services.db.session() as session:
        chunks = session.scalars(select(Chunk)).all()
    assert all(services.models.configured().count_tokens(c.text) <= services.models.configured().max_seq_length - 2 for c in chunks)


def test_reingesting_an_unchanged_file_changes_nothing(services, docs_dir):
    services.documents.ingest_paths([docs_dir])
    with services.db.session() as session:
        before = {c.id: c.created_at for c in session.scalars(select(Chunk))}
    report = services.documents.ingest_paths([docs_dir])
    assert len(report.unchanged) == 3 and not report.added and not report.updated and report.chunks == 0
    with services.db.session() as session:
        assert {c.id: c.created_at for c in session.scalars(select(Chunk))} == before


def test_a_changed_file_replaces_its_chunks_and_vectors(services, docs_dir):
    services.documents.ingest_paths([docs_dir])
    (docs_dir / "shipping.txt").write_text("Shipping is free for orders above 50 euros. Parcels travel by train.")
    report = services.documents.ingest_paths([docs_dir])
    assert [p.rsplit("/", 1)[-1] for p in report.updated] == ["shipping.txt"]
    sql, vectors = _counts(services)
    assert sql == vectors
    assert services.vector_store.point_ids(services.serving.current.collection) == _chunk_ids(services)
    hits = services.serving.search("how do parcels travel", k=1)
    assert "train" in hits[0].text
    assert all("United States" not in h.text for h in services.serving.search("shipping to the United States", k=5))


def test_chunk_ids_are_stable_across_reingestion_from_scratch(make_settings, docs_dir, tmp_path):
    from application.container import DocsTune

    first = DocsTune(make_settings(DATA_DIR=tmp_path / "one"))
    second = DocsTune(make_settings(DATA_DIR=tmp_path / "two"))
    try:
        first.documents.ingest_paths([docs_dir])
        second.documents.ingest_paths([docs_dir])
        assert _chunk_ids(first) == _chunk_ids(second)
        with first.db.session() as session:
            chunk = session.scalars(select(Chunk)).first()
            assert chunk.id == chunk_id_for(chunk.source_id, chunk.text)
    finally:
        first.close()
        second.close()


def test_deleting_a_source_removes_rows_and_vectors(services, docs_dir):
    services.documents.ingest_paths([docs_dir])
    deleted = services.documents.delete(str(docs_dir / "office.html"))
    assert deleted["title"] == "Office life"
    with services.db.session() as session:
        assert session.get(Source, deleted["id"]) is None
    sql, vectors = _counts(services)
    assert sql == vectors
    assert all(h.source_id != deleted["id"] for h in services.serving.search("office cat", k=10))


def test_a_bad_file_does_not_lose_the_others(services, docs_dir):
    services.documents.ingest_paths([docs_dir])
    before = _chunk_ids(services)
    (docs_dir / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (docs_dir / "empty.txt").write_bytes(b"")
    (docs_dir / "new.md").write_text("# Holidays\n\nThe office closes between Christmas and New Year.")
    report = services.documents.ingest_paths([docs_dir])
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in report.failed) == ["broken.pdf", "empty.txt"]
    assert [p.rsplit("/", 1)[-1] for p in report.added] == ["new.md"]
    assert before < _chunk_ids(services)


def test_a_failure_while_indexing_rolls_back_that_file_only(services, docs_dir, monkeypatch):
    services.documents.ingest_paths([docs_dir / "refunds.md"])
    before = _chunk_ids(services)
    real = services.vector_store.upsert
    calls = {"n": 0}

    def flaky(collection, points):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("vector store went away")
        return real(collection, points)

    monkeypatch.setattr(services.vector_store, "upsert", flaky)
    (docs_dir / "refunds.md").write_text("# Refund policy\n\nNo refunds after 14 days.")
    report = services.documents.ingest_paths([docs_dir])
    assert [p.rsplit("/", 1)[-1] for p, _ in report.failed] == ["office.html"] or report.failed
    failed_names = {p.rsplit("/", 1)[-1] for p, _ in report.failed}
    assert len(failed_names) == 1
    sql, vectors = _counts(services)
    assert sql == vectors
    if "refunds.md" in failed_names:  # the old version is still whole
        assert before <= _chunk_ids(services)


def _chunk_ids(services) -> set[str]:
    with services.db.session() as session:
        return set(session.scalars(select(Chunk.id)))
