"""Sources stay in sync: a re-sync embeds only the chunks whose text changed, removes what is gone
upstream (after the grace period), keeps what it cannot read, and never loses a rating's text."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from application.db.models import Chunk, Source, SyncSource
from tests.conftest import write_docs

WORDS = ("harbour", "lantern", "granite", "meadow", "copper", "willow", "falcon", "amber", "thistle", "canyon",
         "saffron", "glacier", "orchard", "pebble", "juniper", "velvet", "quarry", "tundra", "marble", "cobalt")


def handbook(n: int) -> str:
    """A document with a title and three sections, each with a fact of its own (number ``n`` in words)."""
    a, b, c = WORDS[n % 20], WORDS[(n // 20) % 20], WORDS[(n * 7) % 20]
    return (f"# Handbook {n}\n\n"
            f"## Arrival\n\nVisitors of site {n} arrive at the {a} gate and sign the {b} register before "
            f"entering the building.\n\n"
            f"## Equipment\n\nSite {n} lends {c} helmets and {a} boots; return them to the {b} desk at "
            f"the end of the day.\n\n"
            f"## Closing\n\nSite {n} closes at {n % 12 + 1} o'clock; the last visitor switches off the {c} "
            f"lamps.\n")


def chunk_texts(services, uri_suffix: str) -> set[str]:
    with services.db.session() as session:
        return set(session.scalars(select(Chunk.text).join(Source, Source.id == Chunk.source_id)
                                   .where(Source.uri.endswith(uri_suffix))))


def counts(services) -> tuple[int, int]:
    with services.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Chunk))
    return rows, services.vector_store.count(services.serving.current.collection)


@pytest.fixture
def grace_free_services(make_settings):
    from application.container import DocsTune

    built = DocsTune(make_settings(SYNC_DELETE_GRACE_HOURS=0))
    yield built
    built.close()


def test_resync_of_300_documents_embeds_only_the_changed_chunks(grace_free_services, tmp_path):
    services = grace_free_services
    folder = write_docs(tmp_path / "handbooks", {f"site{n:03d}.md": handbook(n) for n in range(300)})
    first = services.documents.ingest_paths([folder])
    assert len(first.added) == 300 and not first.failed
    source = services.sources.find(str(folder))
    before = {name: chunk_texts(services, name) for name in ("site000.md", "site001.md", "site002.md",
                                                             "site003.md", "site004.md")}
    with services.db.session() as session:
        ids_before = dict(session.execute(select(Chunk.id, Chunk.text)).all())

    # five documents change; one of them gets a paragraph at its very top; one document goes
    (folder / "site000.md").write_text("A new notice: the whole site is closed on public holidays.\n\n" + handbook(0))
    (folder / "site001.md").write_text(handbook(1).replace("sign the", "show a badge at the"))
    (folder / "site002.md").write_text(handbook(2) + "\n## Parking\n\nBikes of site 2 are parked by the silo.\n")
    (folder / "site003.md").write_text(handbook(3).replace("closes at", "now closes at"))
    (folder / "site004.md").write_text(handbook(4).replace("lends", "rents out"))
    (folder / "site299.md").unlink()
    gone_fact = "Visitors of site 299 arrive"

    embedded: list[str] = []
    model = services.serving.current.embeddings
    real_embed = model.embed_documents

    def counting_embed(texts):  # the real model, counted
        embedded.extend(texts)
        return real_embed(texts)

    model.embed_documents = counting_embed
    try:
        report = services.sources.sync(source.id)
    finally:
        del model.embed_documents

    assert sorted(p.rsplit("/", 1)[-1] for p in report.updated) == [f"site00{i}.md" for i in range(5)]
    assert len(report.unchanged) == 294 and not report.added and not report.failed
    assert [uri.rsplit("/", 1)[-1] for uri in report.removed] == ["site299.md"]
    # exactly the chunk texts that did not exist before were embedded: nothing of the 294 others, nothing of
    # the unchanged sections of the five (the paragraph on top of site000 moved no other chunk)
    changed = set()
    for name, old in before.items():
        changed |= chunk_texts(services, name) - old
    assert sorted(embedded) == sorted(changed)
    assert len(embedded) == report.chunks <= 7
    assert report.reused >= 10
    # an unchanged text kept its id
    with services.db.session() as session:
        ids_after = dict(session.execute(select(Chunk.id, Chunk.text)).all())
    kept = {i for i, text in ids_before.items() if "site 0 " in text.lower() and ids_after.get(i) == text}
    assert len(kept) == 3  # site000's three sections

    rows, vectors = counts(services)
    assert rows == vectors
    assert services.vector_store.point_ids(services.serving.current.collection) == set(ids_after)
    hits = services.serving.search("Where do visitors of site 299 arrive?", k=10)
    assert all(gone_fact not in hit.text for hit in hits)
    assert any("show a badge" in hit.text for hit in services.serving.search("badge site 1 visitors", k=5))

    row = services.sources.get(source.id)
    assert row["status"] == "ok" and row["document_count"] == 299 and row["missing_count"] == 0
    assert row["last_report"]["chunks_embedded"] == len(embedded) and row["last_report"]["removed"] == 1


def test_a_document_gone_upstream_stays_until_the_grace_period_ends(make_settings, tmp_path):
    from application.container import DocsTune

    services = DocsTune(make_settings(SYNC_DELETE_GRACE_HOURS=24))
    try:
        folder = write_docs(tmp_path / "f", {"keep.md": "# Keep\n\nThe quokka lives on Rottnest island.",
                                             "gone.md": "# Gone\n\nThe numbat eats termites all day long."})
        services.documents.ingest_paths([folder])
        (folder / "gone.md").unlink()
        source = services.sources.find(str(folder))
        report = services.sources.sync(source.id)
        assert report.removed == []
        assert services.sources.get(source.id)["missing_count"] == 1
        assert any("numbat" in h.text for h in services.serving.search("What does the numbat eat?", k=2))
        # a day later it is removed
        with services.db.session() as session:
            gone = session.scalars(select(Source).where(Source.uri.endswith("gone.md"))).one()
            gone.missing_since = gone.missing_since - timedelta(hours=25)
        report = services.sources.sync(source.id)
        assert [u.rsplit("/", 1)[-1] for u in report.removed] == ["gone.md"]
        assert all("numbat" not in h.text for h in services.serving.search("What does the numbat eat?", k=2))
        # a file that comes back is simply new again
        (folder / "gone.md").write_text("# Gone\n\nThe numbat eats termites all day long.")
        assert len(services.sources.sync(source.id).added) == 1
    finally:
        services.close()


def test_a_folder_that_vanished_fails_the_sync_and_removes_nothing(grace_free_services, tmp_path):
    from application.ingest.documents import SourceError

    services = grace_free_services
    folder = write_docs(tmp_path / "mount")
    services.documents.ingest_paths([folder])
    source = services.sources.find(str(folder))
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    with pytest.raises(SourceError, match="does not exist"):
        services.sources.sync(source.id)
    row = services.sources.get(source.id)
    assert row["status"] == "failed" and "nothing was removed" in row["last_error"]
    assert row["document_count"] == 3
    assert services.serving.search("refund", k=1)


def test_a_sync_that_fails_half_way_leaves_the_previous_content_serving(grace_free_services, tmp_path):
    services = grace_free_services
    folder = write_docs(tmp_path / "docs", {f"d{i}.md": handbook(i) for i in range(4)})
    services.documents.ingest_paths([folder])
    with services.db.session() as session:
        before = dict(session.execute(select(Chunk.id, Chunk.text)).all())
    for i in range(4):
        (folder / f"d{i}.md").write_text(handbook(i).replace("Visitors", "Guests"))
    store = services.vector_store
    real_upsert = store.upsert
    calls = {"n": 0}

    def failing_after_two(collection, points):  # the real store, until it goes away
        calls["n"] += 1
        if calls["n"] > 2:
            raise ConnectionError("the vector store went away")
        return real_upsert(collection, points)

    store.upsert = failing_after_two
    try:
        report = services.sources.sync(services.sources.find(str(folder)).id)
    finally:
        del store.upsert
    assert len(report.updated) == 2 and len(report.failed) == 2
    assert all("failed while indexing" in reason for _, reason in report.failed)
    with services.db.session() as session:
        after = dict(session.execute(select(Chunk.id, Chunk.text)).all())
    # the two that failed still serve their previous text; nothing is half-replaced
    assert sum("Visitors" in text for text in after.values()) == 2
    assert sum("Guests" in text for text in after.values()) == 2
    assert set(before) & set(after)
    rows, vectors = counts(services)
    assert rows == vectors
    assert services.sources.get(services.sources.find(str(folder)).id)["status"] == "partial"


def test_feedback_on_a_changed_or_vanished_chunk_keeps_the_text_it_was_rated_on(grace_free_services, tmp_path):
    from application import create_app
    from application.api import close_app
    from application.chat.export import iter_feedback_records
    from training.feedback import parse_feedback_record, resolve_feedback

    services = grace_free_services
    folder = write_docs(tmp_path / "zoo", {
        "penguins.md": "# Penguins\n\nThe Zorblax penguins are fed herring at seven in the morning.",
        "otters.md": "# Otters\n\nThe Zorblax otters sleep in a hollow log near the north pond.",
    })
    services.documents.ingest_paths([folder])
    app = create_app(services.settings.model_copy(update={"rate_limit_enabled": False}), services=services)
    app.config["TESTING"] = True
    try:
        client = app.test_client()
        headers = {"X-Owner-Token": "sync-test-owner-0001"}
        answer = client.post("/api/answer", json={"question": "When are the penguins fed?", "chunks": 2},
                             headers=headers).get_json()
        penguin = next(s for s in answer["sources"] if "herring" in s["text"])
        otter = next(s for s in answer["sources"] if "otters" in s["text"])
        response = client.post("/api/feedback", headers=headers, json={
            "message_id": answer["message_id"], "feedback": "like",
            "sources": {penguin["chunk_id"]: "relevant", otter["chunk_id"]: "irrelevant"}})
        assert response.status_code == 200, response.get_json()
    finally:
        close_app(app)

    (folder / "penguins.md").write_text("# Penguins\n\nThe Zorblax penguins are fed sardines at nine.")
    (folder / "otters.md").unlink()
    report = services.sources.sync(services.sources.find(str(folder)).id)
    assert len(report.updated) == 1 and len(report.removed) == 1
    with services.db.session() as session:
        assert session.get(Chunk, penguin["chunk_id"]) is None and session.get(Chunk, otter["chunk_id"]) is None

    records = list(iter_feedback_records(services.db))
    retrieved = {r["chunk_id"]: r["text"] for r in records[0]["retrieved"]}
    assert "herring at seven" in retrieved[penguin["chunk_id"]]
    assert "hollow log" in retrieved[otter["chunk_id"]]
    resolved = resolve_feedback([parse_feedback_record(r) for r in records])
    assert resolved.texts[penguin["chunk_id"]] == retrieved[penguin["chunk_id"]]
    labels = next(iter(resolved.labels.values()))
    assert labels[penguin["chunk_id"]] == 1 and labels[otter["chunk_id"]] == 0


def test_sources_are_listed_with_their_documents_and_can_be_deleted(grace_free_services, tmp_path):
    services = grace_free_services
    folder = write_docs(tmp_path / "docs")
    single = tmp_path / "single.md"
    single.write_text("# Single\n\nThe single file speaks of the okapi.")
    services.documents.ingest_paths([folder, single])
    listed = {row["kind"]: row for row in services.sources.list()}
    assert listed["folder"]["document_count"] == 3 and listed["file"]["document_count"] == 1
    assert listed["folder"]["status"] == "ok" and listed["folder"]["last_sync_at"]
    documents = services.documents.list()
    assert {d["sync_source_id"] for d in documents} == {listed["folder"]["id"], listed["file"]["id"]}

    deleted = services.sources.delete(listed["folder"]["id"])
    assert deleted["documents"] == 3
    assert [row["kind"] for row in services.sources.list()] == ["file"]
    rows, vectors = counts(services)
    assert rows == vectors > 0
    with services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(SyncSource)) == 1


def test_a_schedule_makes_a_source_due(grace_free_services, tmp_path):
    services = grace_free_services
    folder = write_docs(tmp_path / "docs")
    source = services.sources.add("folder", str(folder), schedule="hourly")
    assert services.sources.due() == [source["id"]]  # never synced: due at once
    services.sources.sync(source["id"])
    assert services.sources.due() == []
    row = services.sources.get(source["id"])
    assert row["next_sync_at"] > row["last_sync_at"]
    later = services.sources.find(source["id"]).next_sync_at + timedelta(minutes=1)
    from datetime import timezone
    assert services.sources.due(later.replace(tzinfo=later.tzinfo or timezone.utc)) == [source["id"]]
    services.sources.update(source["id"], schedule="never")
    assert services.sources.due(later.replace(tzinfo=later.tzinfo or timezone.utc)) == []


@pytest.mark.parametrize("kind, location, options, message", [
    ("web", "ftp://example.com/docs", {}, "http"),
    ("web", "http://169.254.169.254/latest/meta-data/", {}, "169.254.169.254"),
    ("web", "https://example.com/", {"mode": "everything"}, "mode must be one of"),
    ("web", "https://example.com/", {"max_pages": -1}, "max_pages"),
    ("folder", "/no/such/folder", {}, "does not exist"),
    ("git", "/no/such/repository", {}, "neither a git URL"),
    ("git", "https://example.com/x.git", {"branch": "--upload-pack=evil"}, "not a branch name"),
    ("upload", "x", {}, "kind must be one of"),
])
def test_a_bad_source_is_refused_with_one_line(services, kind, location, options, message):
    from application.errors import BadRequest

    with pytest.raises(BadRequest, match=message):
        services.sources.add(kind, location, options=options)
    assert services.sources.list() == []
