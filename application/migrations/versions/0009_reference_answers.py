"""Reference answers: an evaluation question may keep what a good answer says (``reference_answer``)
and where that came from (``reference_origin``: import | feedback). Questions stored before
have none.

Revision ID: 0009_reference_answers
Revises: 0008_sync_sources
"""
import sqlalchemy as sa
from alembic import op

revision = "0009_reference_answers"
down_revision = "0008_sync_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation_questions") as batch:
        batch.add_column(sa.Column("reference_answer", sa.Text, nullable=True))
        batch.add_column(sa.Column("reference_origin", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluation_questions") as batch:
        batch.drop_column("reference_origin")
        batch.drop_column("reference_answer")
