"""The application's resources, built once per process (or per app in tests).

``Services`` holds the database, the vector store client, the embedding and lexical
encoders, the job runtime and ``serving`` (``application.retrieval.serving.ServingIndex``: the serving
collection, its model and its retrieval settings, with search, re-index, swap and rollback).
It offers the operations on documents the CLI and the HTTP API share: ingest, list and delete
sources. Nothing here knows about HTTP.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sqlalchemy import func, select, text

from application.db import Database
from application.db.models import Chunk, Source
from application.errors import BadRequest, NotFound
from application.retrieval.index import ActiveIndex
from application.retrieval.serving import Retrieval, ServingIndex  # noqa: F401  (Retrieval: re-exported)
from application.settings import Settings, get_settings
from application.vectorstore import SearchHit, VectorStore, collection_name_for, create_vector_store

log = logging.getLogger(__name__)


class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database_url_resolved)
        import application.db.api_keys  # noqa: F401  (register the tables)
        import application.db.evaluation  # noqa: F401
        import application.db.jobs  # noqa: F401
        import application.db.models  # noqa: F401

        self.db.migrate()
        self._vector_store: VectorStore | None = None
        self._embeddings = None
        self._lock = threading.RLock()
        self._jobs = None
        # the serving collection, its model and its retrieval settings, as one object
        self.serving = ServingIndex(self.db, settings, store=lambda: self.vector_store,
                                    configured=lambda: self.embeddings,
                                    configured_model=lambda: self.configured_model, load_model=self.load_model)

    # -- resources, created on first use ------------------------------------------------
    @property
    def configured_model(self) -> tuple[str, str | None]:
        """(name to load, registry version or None): what EMBEDDINGS_NAME and the registry ask for.

        EMBEDDINGS_NAME set to a folder or a plugin's name wins; a registry version (``v3``) or
        ``active`` names a registry entry; left unset, the registry's active version is used when
        there is one, else the bundled model.
        """
        return resolve_configured_model(self.settings)

    @property
    def embeddings(self):
        """The configured model (it may not be the one serving yet: see ``index``)."""
        name, _ = self.configured_model  # the registry's pointer may have moved (a promotion)
        if self._embeddings is None or self._embeddings.name != name:
            self._embeddings = self.load_model(name)
        return self._embeddings

    def load_model(self, name: str):
        from plugins import load_embeddings

        return load_embeddings(name, **self.settings.embedding_options())

    @property
    def lexical(self):
        """The lexical encoder of LEXICAL_TOKENIZER (BM25 sparse vectors, ``plugins.lexical``)."""
        from plugins.lexical import load_lexical

        return load_lexical(self.settings.lexical_tokenizer)

    @property
    def vector_store(self) -> VectorStore:
        if self._vector_store is None:
            with self._lock:
                if self._vector_store is None:
                    self._vector_store = create_vector_store(self.settings)
        return self._vector_store

    @property
    def index(self) -> ActiveIndex:
        """The serving snapshot (``serving.current``): what a search reads once."""
        return self.serving.current

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
            extra_collections=self.serving.building_collections,
            parse_limits=settings.parse_limits(),
        )

    @property
    def sources(self):
        """The sources documents come from (folders, uploads, web sites, git repositories) and their syncs."""
        from application.ingest.sync import SourceSync

        return SourceSync(self.db, lambda: self.ingestor, self.collections, lambda: self.vector_store, self.settings)

    def collections(self) -> list[str]:
        """The serving collection and those a re-index is building: a removal goes to each."""
        return [self.index.collection, *(name for name, _ in self.serving.building_collections())]

    @property
    def jobs(self):
        """The background job runtime (queue, worker, job rows) of this process."""
        if self._jobs is None:
            with self._lock:
                if self._jobs is None:
                    from application.jobs.handlers import HANDLERS
                    from application.jobs.runtime import JobRuntime

                    self._jobs = JobRuntime(self, HANDLERS)
        return self._jobs

    # -- operations -----------------------------------------------------------------------
    def ingest_paths(self, paths: Iterable[str | os.PathLike], progress: Callable[[int, int], None] | None = None):
        """Each path becomes a source (a folder or a file) and is synced: new and changed documents are
        embedded, unchanged ones skipped, and documents gone from a folder are removed after the grace period."""
        from application.ingest.pipeline import IngestReport

        paths = [Path(p).expanduser() for p in paths]
        for path in paths:
            if not path.exists():
                raise BadRequest(f"{path} does not exist")
        report = IngestReport()
        sources = self.sources
        for path in paths:
            source = sources.add("folder" if path.is_dir() else "file", str(path))
            report.merge(sources.sync(source["id"], progress=progress))
        return report

    def ingest_file(self, path: str | os.PathLike, uri: str | None = None, title: str | None = None,
                    progress: Callable[[int, int], None] | None = None):
        key = str(Path(path))
        return self.ingestor.ingest_paths(
            [path], progress=progress, uris={key: uri} if uri else None, titles={key: title} if title else None
        )

    def search(self, question: str, k: int = 4, source_ids: Sequence[str] | None = None) -> list[SearchHit]:
        """The ``k`` best chunks by the serving pipeline (``serving.retrieve`` has the pipeline too)."""
        return self.serving.search(question, k, source_ids)

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
                raise NotFound(f"No source with id or path {source_id_or_uri!r}; `docstune documents list` shows them.")
            return source

    def delete_source(self, source_id_or_uri: str) -> dict:
        """Remove one document, its chunks and its vectors."""
        from application.ingest.pipeline import delete_documents

        source = self.find_source(source_id_or_uri)
        delete_documents(self.db, self.vector_store, self.collections(), [source.id])
        return source.to_dict()

    def chunk_count(self) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(Chunk)) or 0

    def configured_info(self) -> dict:
        """What EMBEDDINGS_NAME / the registry ask for (it serves once its collection is complete)."""
        name, version = self.configured_model
        info = {"version": version, "model_name": name, "fingerprint": None, "collection": None, "dimension": None}
        try:
            embeddings = self.embeddings
        except Exception as exc:
            info["error"] = str(exc)
            return info
        info.update(fingerprint=embeddings.fingerprint, collection=collection_name_for(embeddings.fingerprint),
                    dimension=embeddings.dimension)
        return info

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
            if index.pending is not None or index.pending_error:
                pending = index.pending
                checks["embeddings"]["pending"] = {
                    "name": getattr(pending, "name", self.configured_model[0]),
                    "fingerprint": getattr(pending, "fingerprint", None),
                    "error": index.pending_error,
                    "note": "the configured model is not indexed yet; the model above serves until its "
                            "re-index job completes (`docstune jobs` shows it)",
                }
        except Exception as exc:
            checks["vector_store"] = {"ok": False, "error": str(exc)}
        checks["ok"] = all(v.get("ok") for k, v in checks.items() if isinstance(v, dict))
        return checks

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.stop_worker(wait=True)
            self._jobs = None
        if self._vector_store is not None:
            self._vector_store.close()
            self._vector_store = None
        self.serving.reset()
        self.db.dispose()


def resolve_configured_model(settings: Settings) -> tuple[str, str | None]:
    """(name to load, registry version or None) of the configured embedding model."""
    from training.registry import ModelRegistry, RegistryError

    name = settings.embeddings_name
    explicit = "embeddings_name" in settings.model_fields_set and name != "active"
    registry = ModelRegistry(settings.models_dir)
    if not explicit:
        active = registry.active() if registry.root.is_dir() else None
        if active is not None:
            return active.model_path, active.version
        if name == "active":
            return Settings.model_fields["embeddings_name"].default, None
        return name, None
    if re.fullmatch(r"v?\d+", name) and not Path(name).exists():
        try:
            version = registry.get(name)
        except RegistryError as exc:
            raise BadRequest(f"EMBEDDINGS_NAME={name}: {exc}") from exc
        return version.model_path, version.version
    return name, None


def build_services(settings: Settings | None = None) -> Services:
    return Services(settings or get_settings())
