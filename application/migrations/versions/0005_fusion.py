"""The fusion weight fitted for a collection (``docstune tune``, a retrain, a promotion), with its origin.

Revision ID: 0005_fusion
Revises: 0004_lexical
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_fusion"
down_revision = "0004_lexical"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # null: nothing was fitted for it; FUSION_WEIGHT or the measured default serves
    with op.batch_alter_table("vector_collections") as batch:
        batch.add_column(sa.Column("fusion", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vector_collections") as batch:
        batch.drop_column("fusion")
