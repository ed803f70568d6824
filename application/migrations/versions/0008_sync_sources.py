"""Sources that stay in sync: ``sync_sources`` (a folder, the uploads, a web site, a git repository),
each document's source, origin and missing-upstream time; each chunk's heading path and location.

Documents ingested before sources existed get one: uploads (``upload://``) join one "uploads"
source, every other document becomes a source of kind ``file`` at its path.

Revision ID: 0008_sync_sources
Revises: 0007_api_keys
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0008_sync_sources"
down_revision = "0007_api_keys"
branch_labels = None
depends_on = None

# application.ingest.sync.SYNC_SOURCE_NAMESPACE: the id of a source is uuid5(kind:location)
SYNC_SOURCE_NAMESPACE = uuid.UUID("9d3f1f55-0c4e-4b7a-8f63-5a2f7c1e8b44")
UPLOADS_LOCATION = "upload://"


def upgrade() -> None:
    op.create_table(
        "sync_sources",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("location", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("schedule", sa.String(16), nullable=False, server_default="never"),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("last_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_sync_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_report", sa.JSON, nullable=True),
        sa.Column("cursor", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("kind", "location", name="uq_sync_sources_kind_location"),
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("sync_source_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("origin", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("missing_since", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_sources_sync_source_id", ["sync_source_id"])
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("headings", sa.JSON, nullable=True))
        batch.add_column(sa.Column("location", sa.String(256), nullable=True))
    with op.batch_alter_table("message_chunks") as batch:
        batch.add_column(sa.Column("headings", sa.JSON, nullable=True))
        batch.add_column(sa.Column("location", sa.String(256), nullable=True))

    # every document ingested so far gets its source
    bind = op.get_bind()
    sync_sources = sa.table(
        "sync_sources", sa.column("id"), sa.column("kind"), sa.column("location"), sa.column("name"),
        sa.column("options", sa.JSON), sa.column("schedule"), sa.column("status"), sa.column("created_at"),
    )
    sources = sa.table("sources", sa.column("id"), sa.column("uri"), sa.column("title"),
                       sa.column("sync_source_id"))
    now = datetime.now(timezone.utc)
    rows = bind.execute(sa.select(sources.c.id, sources.c.uri, sources.c.title)).all()
    made: set[str] = set()
    for document_id, uri, title in rows:
        kind, location, name = (("upload", UPLOADS_LOCATION, "Uploads") if uri.startswith("upload://")
                                else ("file", uri, title or uri))
        source_id = str(uuid.uuid5(SYNC_SOURCE_NAMESPACE, f"{kind}:{location}"))
        if source_id not in made:
            bind.execute(sync_sources.insert().values(
                id=source_id, kind=kind, location=location, name=name[:512], options={}, schedule="never",
                status="ok", created_at=now))
            made.add(source_id)
        bind.execute(sources.update().where(sources.c.id == document_id).values(sync_source_id=source_id))


def downgrade() -> None:
    with op.batch_alter_table("message_chunks") as batch:
        batch.drop_column("location")
        batch.drop_column("headings")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("location")
        batch.drop_column("headings")
    with op.batch_alter_table("sources") as batch:
        batch.drop_index("ix_sources_sync_source_id")
        batch.drop_column("missing_since")
        batch.drop_column("origin")
        batch.drop_column("sync_source_id")
    op.drop_table("sync_sources")
