"""Record a rating: thumbs on the answer, a mark per source, a comment.

The row stores what the person said and nothing else (no pairs, no labels);
``training`` derives datasets from the export later. Posting again overwrites:
``feedback: null`` clears the verdict, ``sources: {id: null}`` clears a mark,
and a rating left empty is removed.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from application.db import transactions
from application.chat.conversations import feedback_dict
from application.db.chat import Conversation, Feedback, Message, SourceMark
from application.errors import BadRequest, NotFound
from application.request_values import quoted, some_of

MAX_COMMENT_CHARS = 4000
#: a value of ``record_feedback`` that leaves the stored one as it is
KEEP = object()


def record_feedback(db, owner: str | None, *, message_id: str | None = None, conversation_id: str | None = None,
                    question_index: int | None = None, verdict=KEEP, marks: dict | None = None,
                    comment=KEEP) -> dict:
    """Apply one rating in one transaction; returns the rating as it now stands. The message is ``message_id``,
    or DocsGPT's ``conversation_id`` with ``question_index``; ``verdict`` "like" | "dislike" | None (clear);
    ``marks`` {chunk_id: "relevant" | "irrelevant" | None (clear)}; ``comment`` a text or None (clear);
    :data:`KEEP` leaves a value as it is."""
    marks = marks or {}

    def apply(session) -> dict:
        message = _owned_message(session, owner, message_id, conversation_id, question_index)
        retrieved = {row.chunk_id for row in message.retrieved}
        unknown = sorted(set(marks) - retrieved)
        if unknown:
            raise BadRequest(f"{len(unknown)} of the rated chunks were not retrieved for this message: "
                             f"{some_of(unknown)}; rate only the sources the answer came with.")
        feedback = session.scalar(
            select(Feedback).where(Feedback.message_id == message.id, Feedback.voter == owner)
            .options(selectinload(Feedback.marks))
        )
        if feedback is None:
            feedback = Feedback(message_id=message.id, voter=owner)
            session.add(feedback)
        if verdict is not KEEP:
            feedback.verdict = verdict
        if comment is not KEEP:
            feedback.comment = comment
        stored = {m.chunk_id: m for m in feedback.marks}
        for chunk_id, mark in marks.items():
            if mark is None:
                if chunk_id in stored:
                    feedback.marks.remove(stored.pop(chunk_id))
            elif chunk_id in stored:
                stored[chunk_id].mark = mark
            else:
                stored[chunk_id] = SourceMark(chunk_id=chunk_id, mark=mark)
                feedback.marks.append(stored[chunk_id])
        state = {"message_id": message.id, **_state(feedback)}
        if feedback.verdict is None and not feedback.marks and not feedback.comment:
            # everything was taken back: nothing is left to learn from
            if feedback.id is not None:
                session.delete(feedback)
            else:
                session.expunge(feedback)
        return state

    return transactions.write(db, apply)


def _state(feedback: Feedback) -> dict:
    state = feedback_dict(feedback)
    state.pop("updated_at")
    return state


def _owned_message(session, owner: str | None, message_id: str | None, conversation_id: str | None,
                   question_index: int | None) -> Message:
    if message_id is not None:
        message = session.get(Message, message_id, options=[selectinload(Message.retrieved)])
        described = f"message {quoted(message_id)}"
    else:
        message = session.scalar(
            select(Message).where(Message.conversation_id == conversation_id, Message.position == question_index)
        )
        described = f"question {question_index} of conversation {quoted(conversation_id)}"
    if message is None or owner is None:
        raise NotFound(f"No {described} of yours.")
    conversation = session.get(Conversation, message.conversation_id)
    if conversation.owner != owner:
        raise NotFound(f"No {described} of yours.")
    return message
