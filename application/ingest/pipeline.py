"""Ingest: files → parse → chunk → SQL rows + vectors in the active collection.

Each file is its own unit of work: a failure in one is reported and the others
go on. A file whose bytes did not change is left alone; a changed one gets its
chunks and vectors replaced.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import delete, select

from application.db import Database
from application.db.models import Chunk, Source
from application.errors import BadRequest
from application.index import ActiveIndex, chunk_payload
from application.ingest.chunking import ChunkDraft, Chunker, chunk_id_for
from application.ingest.parsers import DocumentError, ParsedDocument, is_supported, parse_file
from application.vectorstore import VectorPoint, VectorStore

log = logging.getLogger(__name__)

SOURCE_NAMESPACE = uuid.UUID("0b8f8f7e-3c2d-4a51-8d0e-6a4c1b9e7f20")
Progress = Callable[[int, int], None]


def source_id_for(uri: str) -> str:
    return str(uuid.uuid5(SOURCE_NAMESPACE, uri))


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unsupported types: a warning
    failed: list[tuple[str, str]] = field(default_factory=list)  # supported but unreadable: an error
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "chunks": self.chunks,
        }


@dataclass
class _Prepared:
    path: Path
    uri: str
    source_id: str
    title: str
    kind: str
    content_hash: str
    size_bytes: int
    drafts: list[ChunkDraft]
    existed: bool


def discover(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest (folders walked recursively, sorted) and the ones skipped, with why."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise BadRequest(f"{raw} does not exist")
        if path.is_file():
            candidates = [path]
        else:
            candidates = sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p, path))
        for candidate in candidates:
            if is_supported(candidate):
                files.append(candidate)
            else:
                skipped.append((str(candidate), f"unsupported type {candidate.suffix or '(none)'}"))
    return files, skipped


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


# an ingest that wrote this many chunks ends with the store's optimize() (Qdrant Edge: segments merged,
# HNSW built); smaller ones leave it to the next bulk load (a search over a few thousand unindexed
# points is a sub-millisecond scan in Edge)
OPTIMIZE_AFTER_CHUNKS = 1000


class Ingestor:
    def __init__(self, db: Database, store: VectorStore, index_provider: Callable[[], ActiveIndex], chunker_factory, *,
                 batch_size: int = 64, extra_collections: Callable[[], list] | None = None):
        self.db = db
        self.store = store
        self.index_provider = index_provider
        self.chunker_factory = chunker_factory
        self.batch_size = batch_size
        # collections being built beside the active one (a re-index) also receive new chunks
        self.extra_collections = extra_collections or (lambda: [])

    def ingest_paths(self, paths: Iterable[str | os.PathLike], progress: Progress | None = None,
                     uris: dict[str, str] | None = None, titles: dict[str, str] | None = None) -> IngestReport:
        files, skipped = discover(paths)
        report = IngestReport(skipped=skipped)
        for path, reason in skipped:
            log.info("Skipped %s: %s", path, reason)
        index = self.index_provider()
        chunker: Chunker = self.chunker_factory(index.embeddings)
        prepared: list[_Prepared] = []
        for path in files:
            uri = (uris or {}).get(str(path)) or str(path.resolve())
            try:
                item = self._prepare(path, uri, (titles or {}).get(str(path)), chunker)
            except DocumentError as exc:
                report.failed.append((str(path), f"{path.name} {exc}"))
                log.info("Failed %s: %s", path, exc)
                continue
            except OSError as exc:
                report.failed.append((str(path), f"{path.name} could not be read: {exc.strerror or exc}"))
                continue
            if item is None:
                report.unchanged.append(str(path))
            else:
                prepared.append(item)
        total = sum(len(p.drafts) for p in prepared)
        done = 0
        if progress:
            progress(0, total)
        for item in prepared:
            try:
                # the serving index of *now*: a swap may have happened since the first file
                self._store(item, self.index_provider(), lambda n: progress(done + n, total) if progress else None)
            except Exception as exc:  # one file's failure must not lose the others
                log.exception("Failed to ingest %s", item.path)
                report.failed.append((str(item.path), f"{item.path.name} failed while indexing: {exc}"))
            else:
                (report.updated if item.existed else report.added).append(str(item.path))
                report.chunks += len(item.drafts)
            done += len(item.drafts)
            if progress:
                progress(done, total)
        if report.chunks >= OPTIMIZE_AFTER_CHUNKS:  # a bulk load (CLI or job): leave the index compact
            for name in {self.index_provider().collection, *(name for name, _ in self.extra_collections())}:
                self.store.optimize(name)
        return report

    def _prepare(self, path: Path, uri: str, title: str | None, chunker: Chunker) -> _Prepared | None:
        data = path.read_bytes()
        content_hash = hashlib.sha256(data).hexdigest()
        source_id = source_id_for(uri)
        with self.db.session() as session:
            existing = session.get(Source, source_id)
            if existing is not None and existing.content_hash == content_hash:
                return None
        document: ParsedDocument = parse_file(path)
        drafts = chunker.split(document)
        if not drafts:
            raise DocumentError("has no text")
        return _Prepared(path, uri, source_id, title or document.title, document.kind, content_hash,
                         len(data), drafts, existing is not None)

    def _store(self, item: _Prepared, index: ActiveIndex, on_progress: Callable[[int], None]) -> None:
        rows = [
            Chunk(
                id=chunk_id_for(item.source_id, d.position, d.text),
                source_id=item.source_id,
                position=d.position,
                text=d.text,
                content_hash=d.content_hash,
                token_count=d.token_count,
                page=d.page,
            )
            for d in item.drafts
        ]
        source = Source(id=item.source_id, uri=item.uri, title=item.title[:512], kind=item.kind,
                        content_hash=item.content_hash, size_bytes=item.size_bytes, chunk_count=len(rows))
        with self.db.session() as session:
            old_ids = set(session.scalars(select(Chunk.id).where(Chunk.source_id == item.source_id)))
        collections = [(index.collection, index.embeddings),
                       *[c for c in self.extra_collections() if c[0] != index.collection]]
        new_ids = {row.id for row in rows}
        # a collection made before the lexical leg (a local-mode one being upgraded) takes dense vectors only
        lexical_in = {name: index.lexical is not None and self.store.has_lexical(name) for name, _ in collections}
        # 1. vectors first, under new ids: if SQL fails below, only these are removed again
        written: list[str] = []
        try:
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start:start + self.batch_size]
                texts = [r.text for r in batch]
                vectors = index.embeddings.embed_documents(texts)
                # the lexical vectors do not depend on the model: the same ones go to every collection
                sparse = index.lexical.embed_documents(texts) if index.lexical is not None else [None] * len(batch)
                for position, (name, embeddings) in enumerate(collections):
                    dense = vectors if position == 0 else embeddings.embed_documents(texts)
                    with_lexical = lexical_in[name]
                    self.store.upsert(name, [VectorPoint(r.id, v, chunk_payload(r, source), lx if with_lexical else None)
                                             for r, v, lx in zip(batch, dense, sparse)])
                written.extend(r.id for r in batch if r.id not in old_ids)
                on_progress(start + len(batch))
            # 2. rows in one transaction: the old chunks go, the new ones come
            with self.db.session() as session:
                session.execute(delete(Chunk).where(Chunk.source_id == item.source_id))
                session.merge(source)
                session.flush()
                session.add_all(rows)
        except BaseException:
            for name, _ in collections:
                self.store.delete(name, written)
            raise
        # 3. vectors of chunks that no longer exist
        for name, _ in collections:
            self.store.delete(name, old_ids - new_ids)
