"""Hybrid retrieval: which lexical tokenizer filled a collection's sparse vectors; the retrieval
settings a message was answered with, and each retrieved chunk's dense and lexical scores.

Revision ID: 0004_lexical
Revises: 0003_jobs
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_lexical"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # null: its points have no (complete) lexical vectors yet; a re-index fills them
    with op.batch_alter_table("vector_collections") as batch:
        batch.add_column(sa.Column("lexical_version", sa.String(128), nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("retrieval", sa.JSON, nullable=True))
    with op.batch_alter_table("message_chunks") as batch:
        batch.add_column(sa.Column("dense_score", sa.Float, nullable=True))
        batch.add_column(sa.Column("lexical_score", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message_chunks") as batch:
        batch.drop_column("lexical_score")
        batch.drop_column("dense_score")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("retrieval")
    with op.batch_alter_table("vector_collections") as batch:
        batch.drop_column("lexical_version")
