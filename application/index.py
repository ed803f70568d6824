"""Which vector collection serves, and whether it was made by the configured model.

A collection belongs to exactly one model fingerprint (``chunks__<fingerprint>``)
and the service reads it through the alias ``chunks_active``. Opening the index
checks that the alias points at the configured model's collection, with the
same dimension, and refuses to serve mismatched vectors.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select

from application.db import Database
from application.db.base import utcnow
from application.db.models import Chunk, Source, VectorCollection
from application.errors import IndexMismatchError
from application.vectorstore import ACTIVE_ALIAS, VectorPoint, VectorStore, collection_name_for

log = logging.getLogger(__name__)

REINDEX_COMMAND = "docstune reindex"


@dataclass(frozen=True)
class ActiveIndex:
    """The collection that serves and the model whose vectors it holds: always read together."""

    collection: str
    embeddings: object  # plugins.EmbeddingBackend


def chunk_payload(chunk: Chunk, source: Source) -> dict:
    return {
        "chunk_id": chunk.id,
        "source_id": source.id,
        "title": source.title,
        "uri": source.uri,
        "position": chunk.position,
        "page": chunk.page,
    }


def _describe(db: Database, collection: str) -> str:
    with db.session() as session:
        record = session.get(VectorCollection, collection)
    if record is None:
        return f"an unknown model (collection {collection})"
    return f"{record.model_name} (fingerprint {record.fingerprint}, {record.dimension}-d)"


def open_active_index(db: Database, store: VectorStore, embeddings) -> ActiveIndex:
    """The serving collection for ``embeddings``; creates it on a fresh install."""
    expected = collection_name_for(embeddings.fingerprint)
    active = store.alias_target(ACTIVE_ALIAS)
    configured = f"{embeddings.name} (fingerprint {embeddings.fingerprint}, {embeddings.dimension}-d)"
    if active is None:
        with db.session() as session:
            stored_chunks = session.scalar(select(func.count()).select_from(Chunk)) or 0
        if stored_chunks and not (store.collection_exists(expected) and store.count(expected) >= stored_chunks):
            raise IndexMismatchError(
                f"{stored_chunks} chunks are stored but no vector index serves them (the Qdrant data was removed "
                f"or never built). Run `{REINDEX_COMMAND}` to embed them with {configured}."
            )
        ensure_collection(db, store, embeddings, status="complete")
        store.switch_alias(expected)
        return ActiveIndex(expected, embeddings)
    if active != expected:
        raise IndexMismatchError(
            f"The active vector index was built with {_describe(db, active)}, but EMBEDDINGS_NAME is {configured}. "
            f"Vectors of two models cannot be compared: run `{REINDEX_COMMAND}` to embed every chunk with the "
            f"configured model, or set EMBEDDINGS_NAME back to the model that built the index."
        )
    size = store.vector_size(active)
    if size != embeddings.dimension:
        raise IndexMismatchError(
            f"The active collection {active} holds {size}-d vectors but {configured} makes "
            f"{embeddings.dimension}-d vectors. Run `{REINDEX_COMMAND}`."
        )
    return ActiveIndex(active, embeddings)


def ensure_collection(db: Database, store: VectorStore, embeddings, status: str = "building") -> str:
    name = collection_name_for(embeddings.fingerprint)
    if not store.collection_exists(name):
        store.create_collection(name, embeddings.dimension)
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
                )
            )
    return name


def reindex(
    db: Database,
    store: VectorStore,
    embeddings,
    *,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Embed every chunk in SQL with ``embeddings`` into its own collection, then switch the alias to it.

    The collection is built from scratch (a half-built one from an earlier crash is dropped), so
    the alias only ever points at a complete collection; the previous one is kept for rollback.
    """
    name = collection_name_for(embeddings.fingerprint)
    if store.alias_target(ACTIVE_ALIAS) != name and store.collection_exists(name):
        store.drop_collection(name)
    with db.session() as session:
        record = session.get(VectorCollection, name)
        if record is not None:
            session.delete(record)
    ensure_collection(db, store, embeddings)
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Chunk)) or 0
    done = 0
    if progress:
        progress(0, total)
    with db.session() as session:
        rows = session.execute(select(Chunk, Source).join(Source).order_by(Chunk.source_id, Chunk.position))
        batch: list[tuple[Chunk, Source]] = []
        for chunk, source in rows:
            batch.append((chunk, source))
            if len(batch) >= batch_size:
                done += _embed_batch(store, name, embeddings, batch)
                batch = []
                if progress:
                    progress(done, total)
        if batch:
            done += _embed_batch(store, name, embeddings, batch)
            if progress:
                progress(done, total)
    with db.session() as session:
        record = session.get(VectorCollection, name)
        record.status = "complete"
        record.chunk_count = done
        record.completed_at = utcnow()
    store.switch_alias(name)
    return name


def _embed_batch(store: VectorStore, collection: str, embeddings, batch) -> int:
    vectors = embeddings.embed_documents([chunk.text for chunk, _ in batch])
    store.upsert(
        collection,
        [VectorPoint(chunk.id, vector, chunk_payload(chunk, source)) for (chunk, source), vector in zip(batch, vectors)],
    )
    return len(batch)
