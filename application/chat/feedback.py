"""Record a rating: thumbs on the answer, a mark per source, a comment.

The row stores what the person said and nothing else (no pairs, no labels);
``training`` derives datasets from the export later. Posting again overwrites:
``feedback: null`` clears the verdict, ``sources: {id: null}`` clears a mark,
and a rating left empty is removed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from application.db import transactions
from application.chat.conversations import feedback_dict
from application.db.chat import MARKS, VERDICTS, Conversation, Feedback, Message, SourceMark
from application.errors import BadRequest, NotFound
from application.request_values import SQL_INTEGER_MAX, quoted, some_of, text, whole_number

MAX_COMMENT_CHARS = 4000
_UNSET = object()


@dataclass
class FeedbackRequest:
    message_id: str | None = None
    # DocsGPT's form: the message is named by its conversation and position
    conversation_id: str | None = None
    question_index: int | None = None
    verdict: object = _UNSET  # "like" | "dislike" | None, or _UNSET to keep the current one
    marks: dict = field(default_factory=dict)  # chunk_id -> "relevant" | "irrelevant" | None (clear)
    comment: object = _UNSET


def parse_feedback_request(body) -> FeedbackRequest:
    if not isinstance(body, dict):
        raise BadRequest("Send a JSON object like {\"message_id\": \"...\", \"feedback\": \"like\"}.")
    request = FeedbackRequest()
    if "message_id" in body:
        request.message_id = text(body["message_id"], "message_id", max_chars=64, strip=False,
                                  expected="the id of a message (the 'id' frame of /stream gives it)")
    elif "conversation_id" in body and "question_index" in body:
        request.conversation_id = text(body["conversation_id"], "conversation_id", max_chars=64, strip=False,
                                       expected="the id string of a conversation")
        request.question_index = whole_number(body["question_index"], "question_index", minimum=0,
                                              maximum=SQL_INTEGER_MAX, hint="the position of the message")
    else:
        raise BadRequest("Name the message: 'message_id', or 'conversation_id' with 'question_index'.")

    if "feedback" in body:
        verdict = body["feedback"]
        if isinstance(verdict, str):
            verdict = verdict.lower()  # DocsGPT sends LIKE / DISLIKE
        if verdict is not None and verdict not in VERDICTS:
            raise BadRequest("'feedback' must be \"like\", \"dislike\" or null (to clear it).")
        request.verdict = verdict

    sources = body.get("sources")
    if sources is not None:
        if not isinstance(sources, dict):
            raise BadRequest("'sources' must be an object {chunk_id: \"relevant\" | \"irrelevant\" | null}.")
        for chunk_id, mark in sources.items():
            if mark is not None and mark not in MARKS:
                raise BadRequest(f"Source {quoted(chunk_id)} is marked {quoted(mark)}; use \"relevant\", "
                                 "\"irrelevant\" or null.")
        request.marks = dict(sources)

    if "comment" in body:
        # empty or null clears it
        request.comment = text(body["comment"], "comment", max_chars=MAX_COMMENT_CHARS, required=False,
                               expected="a string or null")

    if request.verdict is _UNSET and not request.marks and request.comment is _UNSET:
        raise BadRequest("Nothing to record: send 'feedback', 'sources' or 'comment'.")
    return request


def record_feedback(db, request: FeedbackRequest, owner: str | None) -> dict:
    """Apply one rating in one transaction; returns the rating as it now stands."""

    def apply(session) -> dict:
        message = _owned_message(session, request, owner)
        retrieved = {row.chunk_id for row in message.retrieved}
        unknown = sorted(set(request.marks) - retrieved)
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
        if request.verdict is not _UNSET:
            feedback.verdict = request.verdict
        if request.comment is not _UNSET:
            feedback.comment = request.comment
        marks = {m.chunk_id: m for m in feedback.marks}
        for chunk_id, mark in request.marks.items():
            if mark is None:
                if chunk_id in marks:
                    feedback.marks.remove(marks.pop(chunk_id))
            elif chunk_id in marks:
                marks[chunk_id].mark = mark
            else:
                marks[chunk_id] = SourceMark(chunk_id=chunk_id, mark=mark)
                feedback.marks.append(marks[chunk_id])
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


def _owned_message(session, request: FeedbackRequest, owner: str | None) -> Message:
    if request.message_id is not None:
        message = session.get(Message, request.message_id, options=[selectinload(Message.retrieved)])
        described = f"message {request.message_id!r}"
    else:
        message = session.scalar(
            select(Message).where(
                Message.conversation_id == request.conversation_id, Message.position == request.question_index
            )
        )
        described = f"question {request.question_index} of conversation {request.conversation_id!r}"
    if message is None or owner is None:
        raise NotFound(f"No {described} of yours.")
    conversation = session.get(Conversation, message.conversation_id)
    if conversation.owner != owner:
        raise NotFound(f"No {described} of yours.")
    return message
