"""Ratings: ``POST /api/feedback``, and the admin's JSONL export for training."""
from __future__ import annotations

from typing import Annotated, Any

from flask import Response, jsonify
from pydantic import BaseModel, Field, PlainValidator, WithJsonSchema, model_validator

from application.api.context import current_owner, docstune
from application.api.fields import ID_CHARS, ApiKeyInBody, Text, WholeNumber, refuse
from application.api.groups import ADMIN, PUBLIC_CHAT
from application.chat.export import iter_feedback_jsonl
from application.chat.feedback import KEEP, MAX_COMMENT_CHARS, record_feedback
from application.db.chat import MARKS, VERDICTS
from application.request_values import SQL_INTEGER_MAX, quoted

bp = PUBLIC_CHAT.blueprint("feedback", __name__, tag="chat", limit="feedback")
admin_bp = ADMIN.blueprint("feedback_export", __name__, tag="admin")


def _verdict(value: Any) -> str | None:
    verdict = value.lower() if isinstance(value, str) else value  # DocsGPT sends LIKE / DISLIKE
    if verdict is not None and verdict not in VERDICTS:
        raise refuse("must be \"like\", \"dislike\" or null (to clear it).")
    return verdict


def _marks(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise refuse("must be an object {chunk_id: \"relevant\" | \"irrelevant\" | null}.")
    for chunk_id, mark in value.items():
        if mark is not None and mark not in MARKS:
            raise refuse(f"Source {quoted(chunk_id)} is marked {quoted(mark)}; use \"relevant\", \"irrelevant\" "
                         "or null.", whole=True)
    return dict(value)


Verdict = Annotated[str | None, PlainValidator(_verdict), WithJsonSchema(
    {"enum": [*VERDICTS, *(v.upper() for v in VERDICTS), None], "description": "null clears it."})]
Marks = Annotated[dict, PlainValidator(_marks), WithJsonSchema(
    {"anyOf": [{"type": "object", "additionalProperties": {"enum": [*MARKS, None]}}, {"type": "null"}],
     "description": "{chunk_id: mark}; the chunks must be ones retrieved for the message; null clears a mark."})]


MessageId = Text(ID_CHARS, strip=False)
QuestionIndex = WholeNumber(0, SQL_INTEGER_MAX, "the position of the message")
Comment = Text(MAX_COMMENT_CHARS, empty_is_none=True)


class FeedbackRequest(BaseModel):
    """A rating of a message of yours: ``message_id``, or DocsGPT's ``conversation_id`` with ``question_index``.
    Posting again changes it; a field left out stays as it is."""

    # the rule of the validator below, said in the description too (a client generator reads it)
    model_config = {"json_schema_extra": {"anyOf": [{"required": ["message_id"]},
                                                    {"required": ["conversation_id", "question_index"]}]}}

    message_id: MessageId | None = None
    conversation_id: MessageId | None = None
    question_index: QuestionIndex | None = Field(
        None, description="The message's position in the conversation (DocsGPT).")
    feedback: Verdict = None
    sources: Marks = Field(default_factory=dict)
    comment: Comment | None = Field(None, description="Empty or null clears it.")
    api_key: ApiKeyInBody = None

    @model_validator(mode="after")
    def _names_a_message_and_says_something(self):
        if self.message_id is None and (self.conversation_id is None or self.question_index is None):
            raise refuse("Name the message: 'message_id', or 'conversation_id' with 'question_index'.")
        if "feedback" not in self.model_fields_set and not self.sources and "comment" not in self.model_fields_set:
            raise refuse("Nothing to record: send 'feedback', 'sources' or 'comment'.")
        return self


class Rating(BaseModel):
    """The rating as it now stands."""

    message_id: str
    feedback: str | None
    sources: dict[str, str]
    comment: str | None


@bp.post("/api/feedback", operation_id="feedback", responses={200: Rating})
def feedback(body: FeedbackRequest):
    """Rate a message of yours (answer, sources, comment)

    Posting again changes your rating; `null` clears a value; a rating with nothing left is removed.
    DocsGPT's `{conversation_id, question_index}` names a message too.
    """
    named = {"message_id": body.message_id} if body.message_id is not None else {
        "conversation_id": body.conversation_id, "question_index": body.question_index}
    return jsonify(record_feedback(
        docstune().db, current_owner(), **named, marks=body.sources,
        verdict=body.feedback if "feedback" in body.model_fields_set else KEEP,
        comment=body.comment if "comment" in body.model_fields_set else KEEP,
    ))


@admin_bp.get("/api/feedback/export", operation_id="exportFeedback", responses={200: {
    "description": "One JSON object per line: a rated message with its question, answer, sources and rating.",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}})
def export():
    """Every rating as JSONL (the input of training)"""
    return Response(
        iter_feedback_jsonl(docstune().db),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": "attachment; filename=feedback.jsonl"},
    )
