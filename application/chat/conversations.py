"""A person's conversations: list, read (messages with sources and feedback), rename, delete.
Every function takes the owner key; someone else's conversation is reported as missing."""
from __future__ import annotations

from datetime import timezone

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from application.db import transactions
from application.db.chat import Conversation, Feedback, Message
from application.errors import NotFound
from application.redaction import shown_uri
from application.request_values import quoted, unicode_problem

MAX_NAME_CHARS = 256


def in_conversation():
    """The messages a conversation shows. A retry or an edit (DocsGPT's ``index``) replaces the message at
    that position and drops the later ones; those move to negative positions, out of the conversation
    (and its history, and DocsGPT's ``question_index``) but kept with their sources and ratings for training."""
    return Message.position >= 0


def replace_from(session, conversation_id: str, index: int) -> int:
    """Take the messages at ``index`` and after out of the conversation; how many left it."""
    replaced = session.scalars(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.position >= index)
        .order_by(Message.position)
    ).all()
    lowest = session.scalar(select(func.min(Message.position)).where(Message.conversation_id == conversation_id))
    below = min(lowest or 0, 0)
    for n, message in enumerate(replaced, start=1):
        message.position = below - n  # each below every position in use: the unique constraint holds
    session.flush()
    return len(replaced)


def source_link(uri: str | None) -> str | None:
    """DocsGPT's ``link`` of a source: the address a reader can open (a web page's URL), else None;
    never a path on the server."""
    return uri if isinstance(uri, str) and uri.lower().startswith(("https://", "http://")) else None


def iso_utc(value):
    """ISO 8601 in UTC; SQLite hands back naive datetimes, which we wrote as UTC."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _get_owned(session, conversation_id: str, owner: str | None) -> Conversation:
    # an id no conversation can have (not a string, too long, not text) is not looked up at all
    plausible = isinstance(conversation_id, str) and len(conversation_id) <= 64 and not unicode_problem(conversation_id)
    conversation = session.get(Conversation, conversation_id) if plausible else None
    if conversation is None or owner is None or conversation.owner != owner:
        raise NotFound(f"No conversation {quoted(conversation_id)} of yours.")
    return conversation


def list_conversations(db, owner: str | None, limit: int = 100) -> list[dict]:
    if owner is None:
        return []

    def load(session):
        counts = (
            select(Message.conversation_id, func.count().label("n"))
            .where(in_conversation())
            .group_by(Message.conversation_id)
            .subquery()
        )
        rows = session.execute(
            select(Conversation, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.conversation_id == Conversation.id)
            .where(Conversation.owner == owner)
            .order_by(Conversation.updated_at.desc(), Conversation.id)
            .limit(limit)
        ).all()
        return [
            {"id": c.id, "name": c.name, "created_at": iso_utc(c.created_at), "updated_at": iso_utc(c.updated_at),
             "message_count": n}
            for c, n in rows
        ]

    return transactions.read(db, load)


def get_conversation(db, conversation_id: str, owner: str | None) -> dict:
    def load(session):
        conversation = _get_owned(session, conversation_id, owner)
        messages = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id, in_conversation())
            .order_by(Message.position)
            .options(selectinload(Message.retrieved), selectinload(Message.feedback).selectinload(Feedback.marks))
        ).all()
        return {
            "id": conversation.id,
            "name": conversation.name,
            "created_at": iso_utc(conversation.created_at),
            "updated_at": iso_utc(conversation.updated_at),
            "messages": [message_dict(m, owner) for m in messages],
        }

    return transactions.read(db, load)


def message_dict(message: Message, owner: str) -> dict:
    mine = next((f for f in message.feedback if f.voter == owner), None)
    return {
        "id": message.id,
        "position": message.position,
        "question": message.question,
        "answer": message.answer,
        "status": message.status,
        "error": message.error,
        "llm": message.llm,
        "model_fingerprint": message.model_fingerprint,
        "retrieval": message.retrieval,
        "created_at": iso_utc(message.created_at),
        "completed_at": iso_utc(message.completed_at),
        "sources": [
            {"chunk_id": r.chunk_id, "n": r.rank, "rank": r.rank, "score": r.score, "dense_score": r.dense_score,
             "lexical_score": r.lexical_score, "title": r.title,
             "source": shown_uri(r.uri), "link": source_link(r.uri), "page": r.page, "headings": list(r.headings or []), "location": r.location, "text": r.text,
             "shown": r.shown,
             "cited": r.cited}
            for r in message.retrieved
        ],
        "feedback": feedback_dict(mine) if mine else None,
    }


def feedback_dict(feedback: Feedback) -> dict:
    return {
        "feedback": feedback.verdict,
        "sources": {m.chunk_id: m.mark for m in feedback.marks},
        "comment": feedback.comment,
        "updated_at": iso_utc(feedback.updated_at),
    }


def rename_conversation(db, conversation_id: str, owner: str | None, name: str) -> dict:
    """``name``: checked text of at most MAX_NAME_CHARS (the route's model checks it)."""

    def update(session):
        conversation = _get_owned(session, conversation_id, owner)
        conversation.name = name
        return {"id": conversation.id, "name": conversation.name}

    return transactions.write(db, update)


def delete_conversation(db, conversation_id: str, owner: str | None) -> dict:
    def delete(session):
        conversation = _get_owned(session, conversation_id, owner)
        session.delete(conversation)
        return {"id": conversation_id, "deleted": True}

    return transactions.write(db, delete)


def delete_all_conversations(db, owner: str | None) -> dict:
    if owner is None:
        return {"deleted": 0}

    def delete(session):
        conversations = session.scalars(select(Conversation).where(Conversation.owner == owner)).all()
        for conversation in conversations:
            session.delete(conversation)
        return {"deleted": len(conversations)}

    return transactions.write(db, delete)
