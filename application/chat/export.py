"""The feedback JSONL that ``training`` reads: one object per rating (one person, one message).

Each line::

    {"message_id", "question", "verdict": "like"|"dislike"|null, "voter", "voted_at",
     "comment", "sources": {chunk_id: "relevant"|"irrelevant"},
     "retrieved": [{"chunk_id", "text", "rank", "score", "dense_score", "lexical_score", "cited"}],
     "model_fingerprint", "retrieval": {mode, method, weight, ..., lexical_version} | null}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from application.chat.conversations import iso_utc
from application.db.chat import Feedback, Message
from training.feedback import parse_feedback_record
from training.files import atomic_open
from training.records import FeedbackRecord

BATCH = 200


def feedback_record(feedback: Feedback) -> dict:
    message = feedback.message
    return {
        "message_id": message.id,
        "question": message.question,
        "verdict": feedback.verdict,
        "voter": feedback.voter,
        "voted_at": iso_utc(feedback.updated_at),
        "comment": feedback.comment,
        "sources": {m.chunk_id: m.mark for m in feedback.marks},
        "retrieved": [
            {"chunk_id": r.chunk_id, "text": r.text, "rank": r.rank, "score": r.score,
             "dense_score": r.dense_score, "lexical_score": r.lexical_score, "cited": r.cited}
            for r in message.retrieved
        ],
        "model_fingerprint": message.model_fingerprint,
        "retrieval": message.retrieval,
    }


def iter_feedback_records(db) -> Iterator[dict]:
    """Every rating, in the order they were first given, read in batches (keyset pagination on the id)."""
    last_id = 0
    while True:
        with db.session() as session:
            rows = session.scalars(
                select(Feedback)
                .where(Feedback.id > last_id)
                .order_by(Feedback.id)
                .limit(BATCH)
                .options(
                    selectinload(Feedback.marks),
                    selectinload(Feedback.message).selectinload(Message.retrieved),
                )
            ).all()
            records = [feedback_record(f) for f in rows]
        if not rows:
            return
        last_id = rows[-1].id
        yield from records


def feedback_records(db) -> list[FeedbackRecord]:
    """Every rating as the ``FeedbackRecord`` training reads: the export's lines, parsed in memory (a job
    that trains needs no file written and read back)."""
    return [parse_feedback_record(record, f"rated message {record['message_id']}")
            for record in iter_feedback_records(db)]


def iter_feedback_jsonl(db) -> Iterator[str]:
    for record in iter_feedback_records(db):
        yield json.dumps(record, ensure_ascii=False) + "\n"


def write_feedback_jsonl(db, path: str | os.PathLike) -> int:
    """Write the export to ``path`` atomically and durably; returns the number of lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_open(path) as handle:
        for line in iter_feedback_jsonl(db):
            handle.write(line)
            count += 1
    return count
