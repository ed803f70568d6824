"""Chat tables: conversations, their messages, what each message retrieved, and
the feedback people gave. Rows keep raw facts only; datasets are derived later
(``docstune feedback export`` → ``training``)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from application.db.base import Base, utcnow

VERDICTS = ("like", "dislike")
MARKS = ("relevant", "irrelevant")


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # sha256 of the owner token: the token itself is never stored
    owner: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    messages: Mapped[list["Message"]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True, order_by="Message.position"
    )


class Message(Base):
    """One question and its answer, with the LLM and the embedding model that produced them."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "position"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0-based; DocsGPT's question_index
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    # streaming | ok | partial (the client left mid-answer) | failed
    status: Mapped[str] = mapped_column(String(16), default="streaming")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    llm: Mapped[str] = mapped_column(String(255))
    model_fingerprint: Mapped[str] = mapped_column(String(128))
    # the retrieval pipeline that found the chunks: mode, fusion, weight, lexical tokenizer (null: before it)
    retrieval: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    retrieved: Mapped[list["MessageChunk"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="MessageChunk.rank"
    )
    feedback: Mapped[list["Feedback"]] = relationship(
        back_populates="message", cascade="all, delete-orphan", passive_deletes=True
    )


class MessageChunk(Base):
    """A chunk retrieved for a message, as it was shown: the text is a snapshot, and
    ``chunk_id`` is deliberately no foreign key, so deleting a document keeps the history."""

    __tablename__ = "message_chunks"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)  # 1-based; also the [n] the answer cites it by
    score: Mapped[float] = mapped_column(Float)  # the fused score it was ranked by
    dense_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # None: that leg did not return it
    lexical_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    shown: Mapped[bool] = mapped_column(Boolean, default=False)  # the client received it as a source
    cited: Mapped[bool] = mapped_column(Boolean, default=False)  # the answer cites it as [rank]
    source_id: Mapped[str] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(512))
    uri: Mapped[str] = mapped_column(String(2048))
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    headings: Mapped[list | None] = mapped_column(JSON, nullable=True)  # as the chunk had them when retrieved
    location: Mapped[str | None] = mapped_column(String(256), nullable=True)
    text: Mapped[str] = mapped_column(Text)


class Feedback(Base):
    """One person's rating of one message; changing one's mind updates the row."""

    __tablename__ = "feedback"
    __table_args__ = (UniqueConstraint("message_id", "voter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    voter: Mapped[str] = mapped_column(String(64))  # sha256 of the owner token
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)  # like | dislike | None
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    message: Mapped[Message] = relationship(back_populates="feedback")
    marks: Mapped[list["SourceMark"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="SourceMark.chunk_id"
    )


class SourceMark(Base):
    """A per-source mark inside one feedback: this chunk was relevant / irrelevant to the question."""

    __tablename__ = "feedback_marks"

    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True)
    chunk_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mark: Mapped[str] = mapped_column(String(16))  # relevant | irrelevant
