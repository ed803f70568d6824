"""The application's resources, built once per process (or per app in tests).

``Services`` owns the database, the vector store client and the embedding
backend, and offers the operations the CLI and the HTTP API share: ingest,
search, list and delete sources, re-index. Nothing here knows about HTTP.
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlalchemy import func, select, text

from application.db import Database
from application.db.models import Chunk, Source
from application.errors import BadRequest, NotFound
from application.index import ActiveIndex, open_active_index, reindex
from application.settings import Settings, get_settings
from application.vectorstore import SearchHit, VectorStore, create_vector_store

log = logging.getLogger(__name__)

MAX_SEARCH_K = 100


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database_url_resolved)
        import application.db.models  # noqa: F401  (register the tables)

        self.db.migrate()
        self._vector_store: VectorStore | None = None
        self._embeddings = None
        self._index: ActiveIndex | None = None
        self._lock = threading.RLock()

    # -- resources, created on first use ------------------------------------------------
    @property
    def embeddings(self):
        if self._embeddings is None:
            from plugins import load_embeddings

            self._embeddings = load_embeddings(self.settings.embeddings_name, **self.settings.embedding_options())
        return self._embeddings

    @property
    def vector_store(self) -> VectorStore:
        if self._vector_store is None:
            with self._lock:
                if self._vector_store is None:
                    self._vector_store = create_vector_store(self.settings)
        return self._vector_store

    @property
    def index(self) -> ActiveIndex:
        """The serving collection and its model, checked against each other once."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = open_active_index(self.db, self.vector_store, self.embeddings)
        return self._index

    @property
    def ingestor(self):
        from application.ingest.chunking import Chunker
        from application.ingest.pipeline import Ingestor

        settings = self.settings
        return Ingestor(
            self.db,
            self.vector_store,
            lambda: self.index,
            lambda embeddings: Chunker(embeddings, settings.chunk_tokens, settings.chunk_overlap_tokens),
            batch_size=settings.ingest_batch_size,
        )

    # -- operations -----------------------------------------------------------------------
    def ingest_paths(self, paths: Iterable[str | os.PathLike], progress: Callable[[int, int], None] | None = None):
        return self.ingestor.ingest_paths(paths, progress=progress)

    def ingest_file(self, path: str | os.PathLike, uri: str | None = None, title: str | None = None,
                    progress: Callable[[int, int], None] | None = None):
        key = str(Path(path))
        return self.ingestor.ingest_paths(
            [path], progress=progress, uris={key: uri} if uri else None, titles={key: title} if title else None
        )

    def search(self, question: str, k: int = 4, source_ids: Sequence[str] | None = None) -> list[SearchHit]:
        if not isinstance(question, str) or not question.strip():
            raise BadRequest("The question is empty; ask something.")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_SEARCH_K:
            raise BadRequest(f"k must be a whole number from 1 to {MAX_SEARCH_K}.")
        index = self.index
        vector = index.embeddings.embed_query(question.strip())
        points = self.vector_store.search(index.collection, vector, k, source_ids)
        ids = [p.id for p in points]
        with self.db.session() as session:
            texts = dict(session.execute(select(Chunk.id, Chunk.text).where(Chunk.id.in_(ids))).all()) if ids else {}
        hits = []
        for point in points:
            if point.id not in texts:  # vector of a chunk deleted meanwhile
                continue
            payload = point.payload
            hits.append(
                SearchHit(
                    chunk_id=point.id,
                    source_id=payload.get("source_id", ""),
                    text=texts[point.id],
                    score=point.score,
                    rank=len(hits) + 1,
                    title=payload.get("title", ""),
                    uri=payload.get("uri", ""),
                    page=payload.get("page"),
                    position=payload.get("position", 0),
                )
            )
        return hits

    def list_sources(self) -> list[dict]:
        with self.db.session() as session:
            return [s.to_dict() for s in session.scalars(select(Source).order_by(Source.created_at, Source.uri))]

    def find_source(self, source_id_or_uri: str) -> Source:
        from application.ingest.pipeline import source_id_for

        with self.db.session() as session:
            source = session.get(Source, source_id_or_uri)
            if source is None:
                uri = source_id_or_uri
                if os.path.exists(uri):
                    uri = str(Path(uri).resolve())
                source = session.scalar(select(Source).where(Source.uri == uri)) or session.get(
                    Source, source_id_for(uri)
                )
            if source is None:
                raise NotFound(f"No source with id or path {source_id_or_uri!r}; `docstune sources list` shows them.")
            return source

    def delete_source(self, source_id_or_uri: str) -> dict:
        source = self.find_source(source_id_or_uri)
        index = self.index
        # rows first: once they are gone the chunks can no longer be returned (search joins on SQL)
        with self.db.session() as session:
            row = session.get(Source, source.id)
            session.delete(row)
        self.vector_store.delete_source(index.collection, source.id)
        return source.to_dict()

    def chunk_count(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(Chunk)) or 0

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> str:
        with self._lock:
            name = reindex(self.db, self.vector_store, self.embeddings,
                           batch_size=self.settings.ingest_batch_size, progress=progress)
            self._index = None
        return name

    def ready(self) -> dict:
        """Each dependency's state, for /ready and `docstune status`."""
        checks: dict = {}
        try:
            with self.db.session() as session:
                session.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
        except Exception as exc:
            checks["database"] = {"ok": False, "error": str(exc)}
        try:
            index = self.index
            checks["vector_store"] = {"ok": True, "collection": index.collection,
                                      "points": self.vector_store.count(index.collection)}
            checks["embeddings"] = {"ok": True, "name": index.embeddings.name,
                                    "fingerprint": index.embeddings.fingerprint,
                                    "dimension": index.embeddings.dimension}
        except Exception as exc:
            checks["vector_store"] = {"ok": False, "error": str(exc)}
        checks["ok"] = all(v.get("ok") for k, v in checks.items() if isinstance(v, dict))
        return checks

    def close(self) -> None:
        if self._vector_store is not None:
            self._vector_store.close()
            self._vector_store = None
        self._index = None
        self.db.dispose()


def build_services(settings: Settings | None = None) -> Services:
    return Services(settings or get_settings())
