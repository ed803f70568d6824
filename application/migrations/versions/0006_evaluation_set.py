"""The frozen evaluation set and the serving pipeline's scores on it.

Revision ID: 0006_evaluation_set
Revises: 0005_fusion
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_evaluation_set"
down_revision = "0005_fusion"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evaluation_questions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("relevant", sa.JSON, nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evaluation_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("set_fingerprint", sa.String(32), nullable=False, index=True),
        sa.Column("questions", sa.Integer, nullable=False),
        sa.Column("collection", sa.String(255), nullable=False),
        sa.Column("model_name", sa.String(512), nullable=False),
        sa.Column("version", sa.String(32), nullable=True),
        sa.Column("retrieval", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("evaluation_runs")
    op.drop_table("evaluation_questions")
