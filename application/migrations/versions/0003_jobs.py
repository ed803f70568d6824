"""Jobs: background work as rows (kind, status, progress, result); swap history of vector collections.

Revision ID: 0003_jobs
Revises: 0002_chat
"""
import sqlalchemy as sa
from alembic import op

revision = "0003_jobs"
down_revision = "0002_chat"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("progress_done", sa.Integer, nullable=False),
        sa.Column("progress_total", sa.Integer, nullable=False),
        sa.Column("progress_message", sa.String(512), nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_jobs_kind", "jobs", ["kind"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    # when a collection last started serving (rollback goes to the newest before the current one),
    # and which registry version made it (null: a model named by EMBEDDINGS_NAME)
    with op.batch_alter_table("vector_collections") as batch:
        batch.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("registry_version", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vector_collections") as batch:
        batch.drop_column("registry_version")
        batch.drop_column("activated_at")
    op.drop_index("ix_jobs_created_at", "jobs")
    op.drop_index("ix_jobs_status", "jobs")
    op.drop_index("ix_jobs_kind", "jobs")
    op.drop_table("jobs")
