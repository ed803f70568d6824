"""Background jobs as rows a person can read: what runs, how far it got, how it ended.

The queue (huey) only carries a job's id; everything a client sees lives here, so
``GET /api/jobs`` answers from any process that shares the database.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from application.db.base import Base, utcnow

JOB_KINDS = ("ingest", "sync", "reindex", "retrain", "promote", "tune", "label_free", "evaluate", "evaluate_answers")
# the kinds that write vectors before their SQL rows (one killed half-way leaves vectors without rows)
INGESTING_KINDS = ("ingest", "sync")
JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")
ACTIVE_STATUSES = ("queued", "running")


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    progress_message: Mapped[str] = mapped_column(String(512), default="")
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # "<host>:<pid>" of the process running it, to tell a live job from one whose process died
    worker: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @property
    def percent(self) -> float:
        if self.progress_total:
            return round(100.0 * self.progress_done / self.progress_total, 1)
        return 100.0 if self.status == "done" else 0.0

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": {"done": self.progress_done, "total": self.progress_total, "percent": self.percent,
                         "message": self.progress_message},
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error,
            "result": self.result,
            "params": self.params or {},
            "cancel_requested": bool(self.cancel_requested),
        }
