"""Foundation tables: documents (``sources``), their ``chunks`` and the vector
collections built from them. Chunk text lives here: SQL is the source of truth
that every re-index reads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from application.db.base import Base, utcnow


SYNC_SCHEDULES = ("never", "hourly", "daily", "weekly")
SYNC_SOURCE_KINDS = ("upload", "file", "folder", "web", "git")


class SyncSource(Base):
    """Where documents come from and how they stay current: a folder, the uploads, a web site, a git
    repository. Each document (``Source``, DocsGPT's name for it) belongs to one."""

    __tablename__ = "sync_sources"
    __table_args__ = (UniqueConstraint("kind", "location", name="uq_sync_sources_kind_location"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # SYNC_SOURCE_KINDS
    # a path, a URL or a repository; may hold credentials (a git token): shown only redacted
    location: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str] = mapped_column(String(512))
    options: Mapped[dict] = mapped_column(JSON, default=dict)  # web: mode, limits; git: branch, globs
    schedule: Mapped[str] = mapped_column(String(16), default="never")  # SYNC_SCHEDULES
    # new | syncing | ok | partial (some documents failed) | failed (nothing changed)
    status: Mapped[str] = mapped_column(String(16), default="new")
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # where the next sync starts (git: the last synced commit)
    cursor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Source(Base):
    """One document (DocsGPT calls a document a source; the API keeps that name)."""

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(String(512))
    kind: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    sync_source_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    # where it was read from, for people: "docs/install.md @ 1a2b3c4", the URL a page redirected to
    origin: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # gone upstream since then; removed once SYNC_DELETE_GRACE_HOURS have passed (it serves meanwhile)
    missing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    chunks: Mapped[list["Chunk"]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True, order_by="Chunk.position"
    )

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "uri": self.uri,
            "title": self.title,
            "kind": self.kind,
            "content_hash": self.content_hash,
            "size_bytes": self.size_bytes,
            "chunk_count": self.chunk_count,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "sync_source_id": self.sync_source_id,
            "origin": self.origin,
            "missing_since": self.missing_since.isoformat() if self.missing_since else None,
        }


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("source_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    token_count: Mapped[int] = mapped_column(Integer)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # the heading path below the document title, outermost first (``Section.headings``)
    headings: Mapped[list | None] = mapped_column(JSON, nullable=True)
    # where a person finds it beyond the page: "slide 3", "sheet Sales, rows 2–41"
    location: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    source: Mapped[Source] = relationship(back_populates="chunks")


class VectorCollection(Base):
    """One Qdrant collection per model fingerprint, and which model made it."""

    __tablename__ = "vector_collections"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    model_name: Mapped[str] = mapped_column(String(2048))
    dimension: Mapped[int] = mapped_column(Integer)
    # building | complete
    status: Mapped[str] = mapped_column(String(16), default="building")
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # when it last started serving (a rollback goes to the newest before the current one)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the registry version whose model made it; null for a model named by EMBEDDINGS_NAME
    registry_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # the lexical tokenizer (``plugins.lexical`` version) that filled every point's sparse vector;
    # null: not (all) filled yet, so searches use the dense leg alone until a re-index fills them
    lexical_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # the fusion weight fitted for this collection's model (``training.tuning.TunedFusion.record``:
    # weight, method, normalisation, origin, metrics); null: FUSION_WEIGHT or the default serves
    fusion: Mapped[dict | None] = mapped_column(JSON, nullable=True)
