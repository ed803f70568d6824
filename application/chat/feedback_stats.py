"""Feedback at a glance for the admin console: totals, per day, the latest ratings."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from application.chat.conversations import iso_utc
from application.db.chat import Feedback


def feedback_stats(db, latest: int = 20) -> dict:
    with db.session() as session:
        counts = dict(session.execute(
            select(Feedback.verdict, func.count()).where(Feedback.verdict.is_not(None)).group_by(Feedback.verdict)
        ).all())
        by_day: dict[str, dict] = defaultdict(lambda: {"likes": 0, "dislikes": 0})
        for verdict, updated_at in session.execute(
            select(Feedback.verdict, Feedback.updated_at).where(Feedback.verdict.is_not(None))
        ):
            day = updated_at.date().isoformat()
            by_day[day]["likes" if verdict == "like" else "dislikes"] += 1
        rows = session.scalars(
            select(Feedback).order_by(Feedback.updated_at.desc(), Feedback.id.desc()).limit(latest)
            .options(selectinload(Feedback.marks), selectinload(Feedback.message))
        ).all()
        newest = [
            {"message_id": f.message_id, "question": f.message.question, "verdict": f.verdict, "comment": f.comment,
             "voted_at": iso_utc(f.updated_at), "sources": {m.chunk_id: m.mark for m in f.marks}}
            for f in rows
        ]
    likes, dislikes = counts.get("like", 0), counts.get("dislike", 0)
    return {
        "total": likes + dislikes,
        "likes": likes,
        "dislikes": dislikes,
        "by_day": [{"day": day, **by_day[day]} for day in sorted(by_day)],
        "latest": newest,
    }
