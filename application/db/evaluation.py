"""The frozen evaluation set (``evaluation_questions``) and what the serving pipeline scored on it
(``evaluation_runs``). ``training.evaluation_set`` decides which questions belong; these rows keep
them, so the set only grows and every version is judged on the same questions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from application.db.base import Base, utcnow


class EvaluationQuestionRow(Base):
    __tablename__ = "evaluation_questions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the normalised question
    question: Mapped[str] = mapped_column(Text)
    relevant: Mapped[list] = mapped_column(JSON)  # chunk ids
    origin: Mapped[str] = mapped_column(String(16))  # feedback | import
    # what a good answer says (answer evaluation compares against it); None: the question has none
    reference_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    reference_origin: Mapped[str | None] = mapped_column(String(16), nullable=True)  # import | feedback
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EvaluationRun(Base):
    """The serving pipeline measured on one state (fingerprint) of the evaluation set."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    set_fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    questions: Mapped[int] = mapped_column(Integer)
    collection: Mapped[str] = mapped_column(String(255))
    model_name: Mapped[str] = mapped_column(String(512))
    version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    retrieval: Mapped[dict] = mapped_column(JSON)
    metrics: Mapped[dict] = mapped_column(JSON)
    trigger: Mapped[str] = mapped_column(String(64))  # retrain <job>, evaluate <job>
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def to_dict(self) -> dict:
        return {"set_fingerprint": self.set_fingerprint, "questions": self.questions, "collection": self.collection,
                "model_name": self.model_name, "version": self.version, "retrieval": self.retrieval,
                "metrics": self.metrics, "trigger": self.trigger,
                "created_at": self.created_at.isoformat() if self.created_at else None}
