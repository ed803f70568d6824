"""Ingest: documents → parse → chunk → SQL rows + vectors in the active collection.

Each document is its own unit of work: a failure in one is reported and the others go on. A
document whose bytes did not change is left alone. A changed one is chunked again, and only the
chunks whose text changed are embedded: a chunk's id is its text's (``chunk_ids_for``), so an
unchanged paragraph keeps its id, its vector and the feedback recorded on it.
"""
from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from sqlalchemy import delete, select

from application.db import Database
from application.db.models import Chunk, Source
from application.errors import BadRequest
from application.retrieval.index import ActiveIndex, chunk_payload
from application.ingest.chunking import ChunkDraft, Chunker, chunk_ids_for
from application.ingest.documents import FetchedDocument
from application.ingest.parsers import DocumentError, ParsedDocument, ParseLimits, is_supported, parse_file
from application.vectorstore import VectorPoint, VectorStore

if TYPE_CHECKING:
    from application.retrieval.serving import ServingIndex
    from application.settings import Settings

log = logging.getLogger(__name__)

SOURCE_NAMESPACE = uuid.UUID("0b8f8f7e-3c2d-4a51-8d0e-6a4c1b9e7f20")
Progress = Callable[[int, int], None]


def source_id_for(uri: str) -> str:
    return str(uuid.uuid5(SOURCE_NAMESPACE, uri))


def content_hash_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # unsupported types: a warning
    failed: list[tuple[str, str]] = field(default_factory=list)  # supported but unreadable: an error
    warnings: list[tuple[str, str]] = field(default_factory=list)  # read in part (a scanned page without OCR)
    removed: list[str] = field(default_factory=list)  # documents gone upstream, deleted
    chunks: int = 0  # chunks embedded (new or changed text)
    reused: int = 0  # chunks of changed documents whose text, id and vector stayed

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: "IngestReport") -> "IngestReport":
        for name in ("added", "updated", "unchanged", "skipped", "failed", "warnings", "removed"):
            getattr(self, name).extend(getattr(other, name))
        self.chunks += other.chunks
        self.reused += other.reused
        return self

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "warnings": [{"path": p, "reason": r} for p, r in self.warnings],
            "chunks": self.chunks,
            "reused": self.reused,
        }

    def summary(self) -> dict:
        """Counts for a source's last report (the lists of failures stay, bounded)."""
        return {
            "added": len(self.added), "updated": len(self.updated), "unchanged": len(self.unchanged),
            "removed": len(self.removed), "chunks_embedded": self.chunks, "chunks_reused": self.reused,
            "failed": [{"path": p, "reason": r} for p, r in self.failed[:100]],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped[:100]],
            "warnings": [{"path": p, "reason": r} for p, r in self.warnings[:100]],
        }


@dataclass
class _Prepared:
    document: FetchedDocument
    source_id: str
    title: str
    kind: str
    content_hash: str
    size_bytes: int
    drafts: list[ChunkDraft]
    existed: bool
    sync_source_id: str | None = None
    warnings: list[str] = field(default_factory=list)  # the parser's: what was read only in part


def discover(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to ingest (folders walked recursively, sorted) and the ones skipped, with why."""
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise BadRequest(f"{raw} does not exist")
        for candidate in discover_folder(path) if path.is_dir() else [path]:
            if is_supported(candidate):
                files.append(candidate)
            else:
                skipped.append((str(candidate), f"unsupported type {candidate.suffix or '(none)'}"))
    return files, skipped


def discover_folder(root: Path) -> list[Path]:
    """Every visible file under ``root`` (sorted); hidden files and folders (``.git``) are left out."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def local_documents(paths: Iterable[str | os.PathLike], uris: dict[str, str] | None = None,
                    titles: dict[str, str] | None = None) -> tuple[list[FetchedDocument], list[tuple[str, str]]]:
    """Local files as documents (uri: the absolute path unless ``uris`` names another), and the skipped."""
    files, skipped = discover(paths)
    documents = [FetchedDocument(uri=(uris or {}).get(str(path)) or str(path.resolve()), path=path,
                                 title=(titles or {}).get(str(path))) for path in files]
    return documents, skipped


# the model gets this many INGEST_BATCH_SIZE batches of texts per call: sentence-transformers sorts a
# call's texts by length before it pads them, so a larger call pads less (bench/ingest_formats.py: a call
# per 64 texts embedded 20% slower than one call for all; progress is reported after each call)
EMBED_CALL_BATCHES = 4

# an ingest that wrote this many chunks ends with the store's optimize() (Qdrant Edge: segments merged,
# HNSW built); smaller ones leave it to the next bulk load (a search over a few thousand unindexed
# points is a sub-millisecond scan in Edge)
OPTIMIZE_AFTER_CHUNKS = 1000


class Ingestor:
    def __init__(self, db: Database, store: VectorStore, index_provider: Callable[[], ActiveIndex], chunker_factory, *,
                 batch_size: int = 64, extra_collections: Callable[[], list] | None = None,
                 parse_limits: ParseLimits | None = None):
        self.db = db
        self.store = store
        self.index_provider = index_provider
        self.chunker_factory = chunker_factory
        self.batch_size = batch_size
        self.parse_limits = parse_limits or ParseLimits()
        # collections being built beside the active one (a re-index) also receive new chunks
        self.extra_collections = extra_collections or (lambda: [])

    @classmethod
    def for_serving(cls, db: Database, serving: ServingIndex, settings: Settings) -> Ingestor:
        """An ingestor into what ``serving`` serves (and the collections a re-index is building)."""
        return cls(db, serving.store, lambda: serving.current,
                   partial(Chunker, chunk_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap_tokens),
                   batch_size=settings.ingest_batch_size, extra_collections=serving.building_collections,
                   parse_limits=settings.parse_limits())

    def ingest_paths(self, paths: Iterable[str | os.PathLike], progress: Progress | None = None,
                     uris: dict[str, str] | None = None, titles: dict[str, str] | None = None,
                     sync_source_id: str | None = None) -> IngestReport:
        documents, skipped = local_documents(paths, uris, titles)
        for path, reason in skipped:
            log.info("Skipped %s: %s", path, reason)
        report = self.ingest_documents(documents, progress=progress, sync_source_id=sync_source_id)
        report.skipped[:0] = skipped
        return report

    def ingest_documents(self, documents: Sequence[FetchedDocument], progress: Progress | None = None,
                         sync_source_id: str | None = None) -> IngestReport:
        """Parse, chunk and embed ``documents``; unchanged ones (same bytes) are only re-attached to
        ``sync_source_id`` (and no longer missing)."""
        report = IngestReport()
        index = self.index_provider()
        chunker: Chunker = self.chunker_factory(index.embeddings)
        prepared: list[_Prepared] = []
        for document in documents:
            name = str(document.path)
            try:
                item = self._prepare(document, chunker, sync_source_id)
            except DocumentError as exc:
                report.failed.append((name, f"{_shown_name(document)} {exc}"))
                log.info("Failed %s: %s", document.uri, exc)
                continue
            except OSError as exc:
                report.failed.append((name, f"{_shown_name(document)} could not be read: {exc.strerror or exc}"))
                continue
            if item is None:
                report.unchanged.append(name)
            else:
                prepared.append(item)
        plans = [(item, self._plan(item)) for item in prepared]
        total = sum(len(plan.to_embed) for _, plan in plans)
        done = 0
        if progress:
            progress(0, total)
        # the model is called with full batches across documents (a document of 3 chunks alone would
        # be a batch of 3: measured 0.71x of plain encode that way, bench/ingest_formats.py), then each
        # document is written on its own: vectors, then its rows in one transaction
        for group in _batches_of_documents(plans, self.batch_size * EMBED_CALL_BATCHES):
            # the serving index of *now*: a swap may have happened since the first file
            index = self.index_provider()
            collections = [(index.collection, index.embeddings),
                           *[c for c in self.extra_collections() if c[0] != index.collection]]
            try:
                stored = self._embed_and_upsert(group, index, collections,
                                                lambda n: progress(done + n, total) if progress else None)
            except Exception as exc:  # the model failed on this batch: its documents are reported, not lost
                log.exception("Failed to embed %s documents", len(group))
                stored = _Stored(failed={position: exc for position in range(len(group))})
            for position, (item, plan) in enumerate(group):
                name = str(item.document.path)
                try:
                    if position in stored.failed:
                        raise stored.failed[position]
                    self._store(item, plan, stored.sources[position], collections, stored.written[position])
                except Exception as exc:  # one file's failure must not lose the others
                    log.error("Failed to ingest %s: %s", item.document.uri, exc)
                    report.failed.append((name, f"{_shown_name(item.document)} failed while indexing: {exc}"))
                else:
                    (report.updated if item.existed else report.added).append(name)
                    report.chunks += len(plan.to_embed)
                    report.reused += len(plan.rows) - len(plan.to_embed)
                done += len(plan.to_embed)
            if progress:
                progress(done, total)
        for item in prepared:
            report.warnings.extend((str(item.document.path), line) for line in item.warnings)
        if report.chunks >= OPTIMIZE_AFTER_CHUNKS:  # a bulk load (CLI or job): leave the index compact
            for name in {self.index_provider().collection, *(name for name, _ in self.extra_collections())}:
                self.store.optimize(name)
        return report

    def _prepare(self, document: FetchedDocument, chunker: Chunker, sync_source_id: str | None) -> _Prepared | None:
        data = document.path.read_bytes()
        content_hash = hashlib.sha256(data).hexdigest()
        source_id = source_id_for(document.uri)
        with self.db.session() as session:
            existing = session.get(Source, source_id)
            if existing is not None and existing.content_hash == content_hash:
                # the same bytes: nothing to embed; it is (again) this source's and present upstream
                # (the session writes only the values that differ)
                existing.sync_source_id = sync_source_id or existing.sync_source_id
                existing.missing_since = None
                existing.origin = document.origin or existing.origin
                return None
        if not data:
            raise DocumentError("is empty")
        parsed: ParsedDocument = parse_file(document.path, self.parse_limits)
        drafts = chunker.split(parsed)
        if not drafts:
            raise DocumentError("has no text")
        return _Prepared(document, source_id, document.title or parsed.title, parsed.kind, content_hash,
                         len(data), drafts, existing is not None, sync_source_id, list(parsed.warnings))

    def _plan(self, item: _Prepared) -> "_Plan":
        """The document's new rows, with ids that keep an unchanged text's id; which of them need a vector."""
        texts = [d.text for d in item.drafts]
        ids = chunk_ids_for(item.source_id, texts)
        with self.db.session() as session:
            old = dict(session.execute(select(Chunk.id, Chunk.content_hash)
                                       .where(Chunk.source_id == item.source_id)).all())
        # a chunk stored under an id of an older scheme keeps it while its text is the same
        old_by_hash: dict[str, list[str]] = defaultdict(list)
        for chunk_id, digest in sorted(old.items()):
            if chunk_id not in ids:
                old_by_hash[digest].append(chunk_id)
        rows, to_embed = [], []
        for draft, chunk_id in zip(item.drafts, ids):
            digest = content_hash_of(draft.text)
            if chunk_id not in old and old_by_hash.get(digest):
                chunk_id = old_by_hash[digest].pop(0)
            row = Chunk(id=chunk_id, source_id=item.source_id, position=draft.position, text=draft.text,
                        content_hash=digest, token_count=draft.token_count, page=draft.page,
                        headings=list(draft.headings) or None, location=draft.location)
            rows.append(row)
            if old.get(chunk_id) != digest:
                to_embed.append(row)
        return _Plan(rows, to_embed, set(old))

    def _embed_and_upsert(self, group: list, index: ActiveIndex, collections: list,
                          on_progress: Callable[[int], None]) -> "_Stored":
        """Embed every new chunk text of ``group`` in calls across documents and write each document's
        vectors as soon as they are made (progress counts stored vectors). A document whose write fails
        is given up alone; if the model fails, or the job is cancelled, every vector written here goes."""
        stored = _Stored(sources={position: _source_row(item, plan) for position, (item, plan) in enumerate(group)},
                         written={position: [] for position in range(len(group))})
        owner = {row.id: position for position, (_, plan) in enumerate(group) for row in plan.to_embed}
        rows = [row for _, plan in group for row in plan.to_embed]
        # a collection made before the lexical leg (a local-mode one being upgraded) takes dense vectors only
        lexical_in = {name: index.lexical is not None and self.store.has_lexical(name) for name, _ in collections}
        step = self.batch_size * EMBED_CALL_BATCHES
        try:
            for start in range(0, len(rows), step):
                batch = rows[start:start + step]
                texts = [r.text for r in batch]
                # the lexical vectors do not depend on the model: the same ones go to every collection
                sparse = index.lexical.embed_documents(texts) if index.lexical is not None else [None] * len(batch)
                dense = {name: embeddings.embed_documents(texts) for name, embeddings in collections}
                by_document: dict[int, list[int]] = defaultdict(list)
                for i, row in enumerate(batch):
                    by_document[owner[row.id]].append(i)
                for position, indexes in by_document.items():
                    if position in stored.failed:
                        continue
                    plan = group[position][1]
                    # noted before the write: removing an id that was never written is harmless
                    stored.written[position].extend(batch[i].id for i in indexes if batch[i].id not in plan.old_ids)
                    try:
                        for name, _ in collections:
                            self.store.upsert(name, [
                                VectorPoint(batch[i].id, dense[name][i], chunk_payload(batch[i], stored.sources[position]),
                                            sparse[i] if lexical_in[name] else None) for i in indexes])
                    except Exception as exc:  # this document alone fails; what it wrote goes
                        stored.failed[position] = exc
                        self._remove_vectors(collections, stored.written.pop(position))
                on_progress(start + len(batch))
        except BaseException:
            for written in stored.written.values():
                self._remove_vectors(collections, written)
            raise
        return stored

    def _store(self, item: _Prepared, plan: "_Plan", source: Source, collections: list, written: list[str]) -> None:
        """The document's rows in one transaction (its new vectors are written already): the old chunks go,
        the new ones come (unchanged texts keep their ids); then the vectors of texts that are gone."""
        try:
            with self.db.session() as session:
                session.execute(delete(Chunk).where(Chunk.source_id == item.source_id))
                session.merge(source)
                session.flush()
                session.add_all(plan.rows)
        except BaseException:
            self._remove_vectors(collections, written)
            raise
        self._remove_vectors(collections, plan.old_ids - {row.id for row in plan.rows})

    def _remove_vectors(self, collections: list, ids) -> None:
        ids = list(ids)
        if ids:
            for name, _ in collections:
                self.store.delete(name, ids)


def _source_row(item: _Prepared, plan: "_Plan") -> Source:
    document = item.document
    return Source(id=item.source_id, uri=document.uri[:2048], title=item.title[:512], kind=item.kind[:16],
                  content_hash=item.content_hash, size_bytes=item.size_bytes, chunk_count=len(plan.rows),
                  sync_source_id=item.sync_source_id, origin=(document.origin or None) and document.origin[:2048],
                  missing_since=None)


@dataclass
class _Stored:
    """What ``_embed_and_upsert`` wrote, by the document's position in its group."""

    sources: dict = field(default_factory=dict)
    written: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)


def _batches_of_documents(plans: list, batch_size: int):
    """Consecutive documents whose new chunks fill about one embedding batch (a large one goes alone)."""
    group, size = [], 0
    for item, plan in plans:
        group.append((item, plan))
        size += len(plan.to_embed)
        if size >= batch_size:
            yield group
            group, size = [], 0
    if group:
        yield group


@dataclass
class _Plan:
    rows: list[Chunk]
    to_embed: list[Chunk]
    old_ids: set[str]


def _shown_name(document: FetchedDocument) -> str:
    """How a failure names the document: the file name of a local file, else its uri."""
    if document.uri.startswith(("http://", "https://", "git+")):
        return document.uri
    return document.path.name


def delete_documents(db: Database, store: VectorStore, collections: Iterable[str], source_ids: Sequence[str]) -> int:
    """Remove documents, their chunks and their vectors in ``collections``; returns how many were removed.
    Rows go first: once they are gone a chunk can no longer be returned (search joins on SQL)."""
    removed = 0
    with db.session() as session:
        for source_id in source_ids:
            row = session.get(Source, source_id)
            if row is not None:
                session.delete(row)
                removed += 1
    for name in set(collections):
        for source_id in source_ids:
            store.delete_source(name, source_id)
    return removed
