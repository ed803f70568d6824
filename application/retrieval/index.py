"""Which vector collection serves, with which model, and how a new one is built and swapped in.

A collection belongs to exactly one model fingerprint (``chunks__<fingerprint>``),
the ``vector_collections`` table records which model made it and whether it is
complete, and the service reads through the alias ``chunks_active``. The rules:

* query vectors always come from the model that made the serving collection:
  ``ActiveIndex`` holds the two together and is replaced as one value;
* when the configured model has no complete collection yet, the last complete
  collection keeps serving *with its own model* and the configured one is
  ``pending`` (a re-index job builds it); if that model cannot be loaded or is
  not the one that made the vectors, opening fails loudly, naming both models;
* a re-index fills a collection from SQL (the source of truth) in batches,
  catches up with what was ingested meanwhile, then switches the alias in one step.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from sqlalchemy import func, select

from application.db import Database
from application.db.base import utcnow
from application.db.models import Chunk, Source, VectorCollection
from application.errors import IndexMismatchError
from application.vectorstore import ACTIVE_ALIAS, VectorPoint, VectorStore, collection_name_for

if TYPE_CHECKING:  # plugins.base imports langchain: loaded with the first model, not with this module
    from plugins import EmbeddingBackend
    from plugins.lexical import LexicalEncoder

log = logging.getLogger(__name__)

REINDEX_COMMAND = "docstune reindex"
LEXICAL_BATCH = 512  # chunks per pass that only rewrites lexical vectors (no model: cheap)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ActiveIndex:
    """The collection that serves and the model whose vectors it holds: always read together.

    ``pending`` is the configured model when it is not the one serving yet (its collection is
    still to be built); ``pending_error`` says why the configured model could not even be loaded.
    """

    collection: str
    embeddings: EmbeddingBackend
    pending: EmbeddingBackend | None = None
    pending_error: str | None = None
    lexical: LexicalEncoder | None = None  # whose vectors new chunks get
    # every point of the collection has its lexical vector from ``lexical``: the lexical leg may search
    lexical_ready: bool = False
    # not ready, but a re-index of this same collection can fill them (start-up starts it)
    lexical_pending: bool = False
    # the fusion weight fitted for this collection (``vector_collections.fusion``), or None
    tuned: dict | None = None


def chunk_payload(chunk: Chunk, source: Source) -> dict:
    return {
        "chunk_id": chunk.id,
        "source_id": source.id,
        "title": source.title,
        "uri": source.uri,
        "position": chunk.position,
        "page": chunk.page,
    }


def describe_model(embeddings) -> str:
    return f"{embeddings.name} (fingerprint {embeddings.fingerprint}, {embeddings.dimension}-d)"


def _describe(db: Database, collection: str) -> str:
    record = collection_record(db, collection)
    if record is None:
        return f"an unknown model (collection {collection})"
    return f"{record.model_name} (fingerprint {record.fingerprint}, {record.dimension}-d)"


def collection_record(db: Database, name: str) -> VectorCollection | None:
    with db.session() as session:
        return session.get(VectorCollection, name)


def stored_chunk_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count()).select_from(Chunk)) or 0


def is_complete(db: Database, store: VectorStore, name: str) -> bool:
    record = collection_record(db, name)
    return record is not None and record.status == "complete" and store.collection_exists(name)


def open_active_index(db: Database, store: VectorStore, embeddings: EmbeddingBackend | None,
                      load_model: Callable[[str, str], EmbeddingBackend] | None = None,
                      *, configured_error: str | None = None, batch_size: int = 64, lexical=None) -> ActiveIndex:
    """The serving collection and its model, and whether its lexical vectors can be searched.

    ``embeddings`` is the configured model (``None`` if it could not be loaded; then
    ``configured_error`` says why); ``load_model(name, fingerprint)`` loads the model that made another
    collection, so that collection can keep serving while the configured one is built.
    ``lexical`` is the configured lexical encoder (``None``: no lexical vectors are written).
    """
    index = _open_active_index(db, store, embeddings, load_model, configured_error, batch_size, lexical)
    index = replace(index, tuned=tuned_fusion(db, index.collection))
    if lexical is None:
        return index
    ready = lexical_ready(db, store, index.collection, lexical)
    pending = not ready and (store.has_lexical(index.collection) or store.adds_lexical_in_place)
    if not ready:
        log.warning("The serving collection %s has no %s vectors for all its chunks yet (it was made before hybrid "
                    "retrieval, or with another LEXICAL_TOKENIZER): searches use the dense leg alone until %s",
                    index.collection, lexical.version,
                    f"a re-index fills them from the database (the job `docstune serve` starts, or `{REINDEX_COMMAND}`)"
                    if pending else "the next re-index into a new collection (a promotion)")
    return replace(index, lexical=lexical, lexical_ready=ready, lexical_pending=pending)


def tuned_fusion(db: Database, collection: str) -> dict | None:
    """The fusion weight fitted for ``collection`` (its record), or None."""
    record = collection_record(db, collection)
    return dict(record.fusion) if record is not None and record.fusion else None


def set_tuned_fusion(db: Database, collection: str, tuned: dict | None) -> None:
    """Store (or, with None, forget) the fusion weight fitted for ``collection``."""
    with db.session() as session:
        record = session.get(VectorCollection, collection)
        if record is None:
            raise IndexMismatchError(f"No record of the collection {collection}; nothing was stored.")
        record.fusion = dict(tuned) if tuned else None


def lexical_ready(db: Database, store: VectorStore, collection: str, lexical) -> bool:
    record = collection_record(db, collection)
    return (record is not None and record.lexical_version == lexical.version
            and store.has_lexical(collection))


def _open_active_index(db, store, embeddings, load_model, configured_error, batch_size, lexical) -> ActiveIndex:
    active = store.alias_target(ACTIVE_ALIAS)
    if active is not None:
        store.ensure_payload_indexes(active)  # a collection from before an index existed
    if embeddings is None:
        if active is None or load_model is None:
            raise IndexMismatchError(f"{configured_error} No earlier vector index can serve meanwhile.")
        return _serve_with_own_model(db, store, active, None, load_model, configured_error)
    expected = collection_name_for(embeddings.fingerprint)
    configured = describe_model(embeddings)
    if active is None:
        stored_chunks = stored_chunk_count(db)
        if stored_chunks and not (store.collection_exists(expected) and store.count(expected) >= stored_chunks):
            raise IndexMismatchError(
                f"{stored_chunks} chunks are stored but no vector index serves them (the Qdrant data was removed "
                f"or never built). Run `{REINDEX_COMMAND}` to embed them with {configured}."
            )
        ensure_collection(db, store, embeddings, status="complete", lexical=lexical)
        activate(db, store, expected)
        return ActiveIndex(expected, embeddings)
    if active == expected:
        size = store.vector_size(active)
        if size != embeddings.dimension:
            raise IndexMismatchError(
                f"The active collection {active} holds {size}-d vectors but {configured} makes "
                f"{embeddings.dimension}-d vectors. Run `{REINDEX_COMMAND}`."
            )
        return ActiveIndex(active, embeddings)
    if is_complete(db, store, expected) and store.vector_size(expected) == embeddings.dimension:
        # built before (a rollback candidate, or an earlier swap): catch up with new chunks and serve it now
        sync_collection(db, store, expected, embeddings, batch_size=batch_size, lexical=lexical)
        activate(db, store, expected)
        log.warning("Serving %s from its complete collection %s", configured, expected)
        return ActiveIndex(expected, embeddings)
    if load_model is None:
        raise IndexMismatchError(_mismatch_message(db, active, configured))
    return _serve_with_own_model(db, store, active, embeddings, load_model, None)


def _mismatch_message(db: Database, active: str, configured: str, why: str = "") -> str:
    return (
        f"The active vector index was built with {_describe(db, active)}, but EMBEDDINGS_NAME is {configured}. "
        f"{why}Vectors of two models cannot be compared: run `{REINDEX_COMMAND}` to embed every chunk with the "
        f"configured model, or set EMBEDDINGS_NAME back to the model that built the index."
    )


def _serve_with_own_model(db, store, active, configured, load_model, configured_error) -> ActiveIndex:
    """Keep serving ``active`` with the model that made it, or fail naming both models and the fix."""
    record = collection_record(db, active)
    configured_text = describe_model(configured) if configured is not None else f"unusable ({configured_error})"
    if record is None:
        raise IndexMismatchError(_mismatch_message(db, active, configured_text,
                                                   "No record says which model made the serving collection. "))
    try:
        own = load_model(record.model_name, record.fingerprint)
        fingerprint, dimension = own.fingerprint, own.dimension
    except Exception as exc:
        raise IndexMismatchError(_mismatch_message(
            db, active, configured_text, f"That model cannot be loaded any more ({exc}), so it cannot serve "
            f"while the new index is built. ")) from exc
    if fingerprint != record.fingerprint or dimension != store.vector_size(active):
        raise IndexMismatchError(_mismatch_message(
            db, active, configured_text, f"{record.model_name} now loads as fingerprint {fingerprint} "
            f"({dimension}-d): its files changed, so it cannot serve the old vectors. "))
    log.warning("Configured model %s is not indexed yet; serving %s from %s meanwhile",
                configured_text, record.model_name, active)
    return ActiveIndex(active, own, pending=configured, pending_error=configured_error)


def ensure_collection(db: Database, store: VectorStore, embeddings, status: str = "building",
                      registry_version: str | None = None, lexical=None) -> str:
    name = collection_name_for(embeddings.fingerprint)
    created = False
    if store.collection_exists(name) and store.vector_size(name) != embeddings.dimension:
        if store.alias_target(ACTIVE_ALIAS) == name:
            raise IndexMismatchError(f"The serving collection {name} holds vectors of another dimension than "
                                     f"{describe_model(embeddings)}; run `{REINDEX_COMMAND}`.")
        store.drop_collection(name)  # left over from another model under the same name: never mix
    if not store.collection_exists(name):
        store.create_collection(name, embeddings.dimension)
        created = True
        with db.session() as session:  # a record of a collection that is gone says nothing
            stale = session.get(VectorCollection, name)
            if stale is not None and stale.status == "complete":
                session.delete(stale)
    with db.session() as session:
        record = session.get(VectorCollection, name)
        if record is None:
            session.add(
                VectorCollection(
                    name=name,
                    fingerprint=embeddings.fingerprint,
                    model_name=embeddings.name,
                    dimension=embeddings.dimension,
                    status=status,
                    chunk_count=0,
                    completed_at=utcnow() if status == "complete" else None,
                    registry_version=registry_version,
                    # an empty new collection holds every chunk's lexical vector (none): ingest adds them
                    lexical_version=lexical.version if lexical is not None and created and status == "complete"
                    and _count_chunks(session) == 0 else None,
                )
            )
        elif registry_version and not record.registry_version:
            record.registry_version = registry_version
    return name


def activate(db: Database, store: VectorStore, name: str) -> None:
    """Point the alias at ``name`` (one atomic step) and note when it started serving."""
    store.switch_alias(name)
    with db.session() as session:
        record = session.get(VectorCollection, name)
        if record is not None:
            record.activated_at = utcnow()


def building_collections(db: Database) -> list[VectorCollection]:
    with db.session() as session:
        return list(session.scalars(select(VectorCollection).where(VectorCollection.status == "building")))


def sync_collection(db: Database, store: VectorStore, name: str, embeddings, *, batch_size: int = 64,
                    progress: Progress | None = None, lexical=None) -> int:
    """Make ``name`` hold exactly the chunks in SQL: embed the missing ones, delete the stale ones,
    and (with ``lexical``) give every point the lexical vector of that tokenizer.

    Chunk ids change with their text, so an id that is present has the right dense vector; its
    lexical vector is rewritten only when the collection's ``lexical_version`` is another one
    (made before the lexical leg, or with another tokenizer: a cheap pass, no model involved).
    Returns how many chunks the collection holds afterwards.
    """
    if lexical is not None and not store.has_lexical(name):
        try:
            store.add_lexical(name)
        except ValueError as exc:  # a server collection made before the lexical leg
            log.warning("%s", exc)
            lexical = None
    record = collection_record(db, name)
    refill = lexical is not None and (record is None or record.lexical_version != lexical.version)
    present = store.point_ids(name)
    with db.session() as session:
        ids = set(session.scalars(select(Chunk.id)))
    missing = sorted(ids - present)
    kept = sorted(ids & present) if refill else []
    total, done = len(ids) + len(kept), len(ids) - len(missing)
    if progress:
        progress(done, total)
    for start in range(0, len(missing), batch_size):
        wanted = missing[start:start + batch_size]
        with db.session() as session:
            rows = list(session.execute(select(Chunk, Source).join(Source).where(Chunk.id.in_(wanted))))
        done += _embed_batch(store, name, embeddings, rows, lexical)
        done += len(wanted) - len(rows)  # deleted meanwhile
        if progress:
            progress(done, total)
    for start in range(0, len(kept), LEXICAL_BATCH):
        wanted = kept[start:start + LEXICAL_BATCH]
        with db.session() as session:
            texts = dict(session.execute(select(Chunk.id, Chunk.text).where(Chunk.id.in_(wanted))).all())
        store.set_lexical(name, dict(zip(texts, lexical.embed_documents(list(texts.values())))))
        done += len(wanted)
        if progress:
            progress(done, total)
    store.delete(name, present - ids)
    if refill:
        with db.session() as session:
            row = session.get(VectorCollection, name)
            if row is not None:
                row.lexical_version = lexical.version
    return len(ids)


def reindex(
    db: Database,
    store: VectorStore,
    embeddings,
    *,
    batch_size: int = 64,
    progress: Progress | None = None,
    switch: bool = True,
    fresh: bool = False,
    registry_version: str | None = None,
    lexical=None,
) -> str:
    """Embed every chunk in SQL with ``embeddings`` into its own collection, then switch the alias to it.

    A half-built collection of the same model (an interrupted job) is resumed, unless ``fresh``.
    While it is ``building`` the ingestion pipeline writes new chunks into it too, and a last
    catch-up pass before the switch takes what was added or deleted meanwhile. The alias only
    ever points at a complete collection; the previous one is kept for rollback.
    """
    name = collection_name_for(embeddings.fingerprint)
    serving = store.alias_target(ACTIVE_ALIAS) == name
    if fresh and not serving and store.collection_exists(name):
        store.drop_collection(name)
    ensure_collection(db, store, embeddings, registry_version=registry_version, lexical=lexical)
    if not serving:
        with db.session() as session:
            record = session.get(VectorCollection, name)
            record.status = "building"
            record.completed_at = None
    sync_collection(db, store, name, embeddings, batch_size=batch_size, progress=progress, lexical=lexical)
    # chunks ingested or deleted while the main pass ran
    count = sync_collection(db, store, name, embeddings, batch_size=batch_size, lexical=lexical)
    store.optimize(name)  # a bulk load: merge segments, build the search index, before it serves
    with db.session() as session:
        record = session.get(VectorCollection, name)
        record.status = "complete"
        record.chunk_count = count
        record.completed_at = utcnow()
        if registry_version:
            record.registry_version = registry_version
    if switch:
        activate(db, store, name)
    return name


def drop_collection(db: Database, store: VectorStore, name: str) -> None:
    """Remove a collection and its record; refuses the serving one."""
    if store.alias_target(ACTIVE_ALIAS) == name:
        raise IndexMismatchError(f"{name} is the serving collection; it cannot be removed.")
    if store.collection_exists(name):
        store.drop_collection(name)
    with db.session() as session:
        record = session.get(VectorCollection, name)
        if record is not None:
            session.delete(record)


def previous_collections(db: Database, store: VectorStore) -> list[VectorCollection]:
    """Complete collections that served before the current one, newest first (rollback targets)."""
    active = store.alias_target(ACTIVE_ALIAS)
    with db.session() as session:
        records = session.scalars(
            select(VectorCollection)
            .where(VectorCollection.status == "complete", VectorCollection.name != (active or ""),
                   VectorCollection.activated_at.is_not(None))
            .order_by(VectorCollection.activated_at.desc())
        )
        return [r for r in records if store.collection_exists(r.name)]


def prune_previous(db: Database, store: VectorStore, keep: int) -> list[str]:
    """Drop the collections older than the ``keep`` newest rollback targets."""
    dropped = []
    for record in previous_collections(db, store)[keep:]:
        drop_collection(db, store, record.name)
        dropped.append(record.name)
    return dropped


def _embed_batch(store: VectorStore, collection: str, embeddings, batch, lexical=None) -> int:
    if not batch:
        return 0
    texts = [chunk.text for chunk, _ in batch]
    vectors = embeddings.embed_documents(texts)
    sparse = lexical.embed_documents(texts) if lexical is not None else [None] * len(texts)
    store.upsert(collection, [VectorPoint(chunk.id, vector, chunk_payload(chunk, source), lexical_vector)
                              for (chunk, source), vector, lexical_vector in zip(batch, vectors, sparse)])
    return len(batch)


def _count_chunks(session) -> int:
    return session.scalar(select(func.count()).select_from(Chunk)) or 0
