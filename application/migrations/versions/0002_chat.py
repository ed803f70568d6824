"""Chat: conversations, messages, retrieved chunks per message, feedback and per-source marks.

Revision ID: 0002_chat
Revises: 0001_foundation
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_chat"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_conversations_owner", "conversations", ["owner"])
    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE", name="fk_messages_conversation_id_conversations"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("llm", sa.String(255), nullable=False),
        sa.Column("model_fingerprint", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("conversation_id", "position", name="uq_messages_conversation_id"),
    )
    op.create_index("ix_messages_conversation_id", "messages", ["conversation_id"])
    op.create_table(
        "message_chunks",
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE", name="fk_message_chunks_message_id_messages"),
            primary_key=True,
        ),
        sa.Column("chunk_id", sa.String(36), primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("shown", sa.Boolean, nullable=False),
        sa.Column("cited", sa.Boolean, nullable=False),
        sa.Column("source_id", sa.String(36), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("uri", sa.String(2048), nullable=False),
        sa.Column("page", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "message_id",
            sa.String(36),
            sa.ForeignKey("messages.id", ondelete="CASCADE", name="fk_feedback_message_id_messages"),
            nullable=False,
        ),
        sa.Column("voter", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("message_id", "voter", name="uq_feedback_message_id"),
    )
    op.create_index("ix_feedback_message_id", "feedback", ["message_id"])
    op.create_table(
        "feedback_marks",
        sa.Column(
            "feedback_id",
            sa.Integer,
            sa.ForeignKey("feedback.id", ondelete="CASCADE", name="fk_feedback_marks_feedback_id_feedback"),
            primary_key=True,
        ),
        sa.Column("chunk_id", sa.String(36), primary_key=True),
        sa.Column("mark", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feedback_marks")
    op.drop_index("ix_feedback_message_id", table_name="feedback")
    op.drop_table("feedback")
    op.drop_table("message_chunks")
    op.drop_index("ix_messages_conversation_id", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_conversations_owner", table_name="conversations")
    op.drop_table("conversations")
