"""The documents as the CLI and the HTTP API see them: ingest paths, list, find and delete documents,
count chunks. Ingestion itself is ``pipeline.Ingestor``; sources that stay in sync are ``sync.SourceSync``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import select

from application.db import Database
from application.db.models import Source
from application.errors import BadRequest, NotFound
from application.ingest.pipeline import IngestReport, Ingestor, delete_documents, source_id_for
from application.ingest.sync import SourceSync
from application.retrieval.index import stored_chunk_count
from application.retrieval.serving import ServingIndex
from application.settings import Settings

Progress = Callable[[int, int], None]


class DocumentLibrary:
    def __init__(self, db: Database, serving: ServingIndex, sources: SourceSync, settings: Settings):
        self.db = db
        self.serving = serving
        self.sources = sources
        self.settings = settings

    def ingestor(self) -> Ingestor:
        return Ingestor.for_serving(self.db, self.serving, self.settings)

    def ingest_paths(self, paths: Iterable[str | os.PathLike], progress: Progress | None = None) -> IngestReport:
        """Each path becomes a source (a folder or a file) and is synced: new and changed documents are
        embedded, unchanged ones skipped, and documents gone from a folder are removed after the grace period."""
        paths = [Path(p).expanduser() for p in paths]
        for path in paths:
            if not path.exists():
                raise BadRequest(f"{path} does not exist")
        report = IngestReport()
        for path in paths:
            source = self.sources.add("folder" if path.is_dir() else "file", str(path))
            report.merge(self.sources.sync(source["id"], progress=progress))
        return report

    def ingest_file(self, path: str | os.PathLike, uri: str | None = None, title: str | None = None,
                    progress: Progress | None = None) -> IngestReport:
        key = str(Path(path))
        return self.ingestor().ingest_paths(
            [path], progress=progress, uris={key: uri} if uri else None, titles={key: title} if title else None
        )

    def list(self) -> list[dict]:
        with self.db.session() as session:
            return [s.to_dict() for s in session.scalars(select(Source).order_by(Source.created_at, Source.uri))]

    def find(self, source_id_or_uri: str) -> Source:
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

    def delete(self, source_id_or_uri: str) -> dict:
        """Remove one document, its chunks and its vectors."""
        source = self.find(source_id_or_uri)
        delete_documents(self.db, self.serving.store, self.serving.collections(), [source.id])
        return source.to_dict()

    def chunk_count(self) -> int:
        return stored_chunk_count(self.db)
