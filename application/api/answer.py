"""Asking: ``POST /stream`` (SSE), ``POST /api/answer`` (one JSON reply), ``POST /api/search`` (retrieval only)."""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from flask import Response, jsonify
from pydantic import BaseModel, Field, PlainValidator, RootModel, StrictBool, WithJsonSchema, model_validator

from application.api.context import AdminAuthRequired, docstune, current_owner, current_source_filter, is_admin_request
from application.api.fields import ID_CHARS, ApiKeyInBody, Text, WholeNumber, refuse, setting_value
from application.api.groups import PUBLIC_CHAT, describe
from application.chat.answer import AnswerFailed, answer_once, search, start_answer, stream_answer
from application.retrieval.timing import log_timings, phase, timed
from application.request_values import SQL_INTEGER_MAX, unicode_problem

bp = PUBLIC_CHAT.blueprint("answer", __name__, tag="chat", limit="answer")

_HISTORY_SHAPE = "'history' must be a list of {\"prompt\": ..., \"response\": ...} objects."


def history_turns(value: Any) -> list[tuple[str, str]] | None:
    """DocsGPT sends ``[{"prompt": q, "response": a}, ...]``, sometimes as a JSON string; the last
    HISTORY_MAX_MESSAGES turns are kept, each held to 4 x MAX_QUESTION_CHARS."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise refuse(_HISTORY_SHAPE, whole=True) from None
    if not isinstance(value, list):
        raise refuse(_HISTORY_SHAPE, whole=True)
    limit = setting_value("max_question_chars") * 4
    turns = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise refuse("Each 'history' item must be an object with 'prompt' and 'response'.", whole=True)
        prompt = item.get("prompt", item.get("question"))
        response = item.get("response", item.get("answer"))
        if isinstance(prompt, str) and response is None:
            # DocsGPT's widget sends its list with the question being asked (no response yet), and
            # failed turns ({prompt, error}); DocsGPT skips them, and so do we
            continue
        if not isinstance(prompt, str) or not isinstance(response, str):
            raise refuse("Each 'history' item needs a 'prompt' and a 'response' string.", whole=True)
        for name, text in (("prompt", prompt), ("response", response)):  # they go to the LLM
            problem = unicode_problem(text)
            if problem:
                raise refuse(f"'history[{i}].{name}' cannot be used: {problem}.", whole=True)
        turns.append((prompt[:limit], response[:limit]))
    kept = setting_value("history_max_messages")
    return turns[-kept:] if kept else []


History = Annotated[list[tuple[str, str]] | None, PlainValidator(history_turns), WithJsonSchema({
    "oneOf": [
        {"type": "array", "items": {"type": "object", "properties": {
            "prompt": {"type": "string"}, "response": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}},
        {"type": "string", "description": "The same list as a JSON string (DocsGPT's widget)."},
        {"type": "null"},
    ],
    "description": "The turns before this question (left out: the conversation's own).",
})]


Question = Text("max_question_chars")
ConversationId = Text(ID_CHARS, strip=False, empty_is_none=True)
MessagePosition = WholeNumber(0, SQL_INTEGER_MAX, "the position of the message to replace")
#: one limit on top-k (MAX_CHUNKS): an answer may skip retrieval (DocsGPT's chunks 0), a search may not
AnswerChunks = WholeNumber(0, "max_chunks")
SearchChunks = WholeNumber(1, "max_chunks")


class AnswerRequest(BaseModel):
    """A question, DocsGPT's way; the other fields its widget and React app send are ignored."""

    question: Question
    conversation_id: ConversationId | None = Field(
        None, description="A conversation of yours to continue (left out: a new one).")
    history: History = None
    chunks: AnswerChunks = Field(4, description="How many chunks to retrieve (0: none).")
    is_none_doc: StrictBool | None = Field(
        None, alias="isNoneDoc", description="DocsGPT's 'no document chosen': no retrieval, unless an API key "
                                             "chooses the sources.")
    index: MessagePosition | None = Field(
        None, description="DocsGPT's retry/edit: the answer replaces the message at this position.")
    api_key: ApiKeyInBody = None

    @model_validator(mode="after")
    def _index_needs_its_conversation(self):
        if self.index is not None and self.conversation_id is None:
            raise refuse("'index' replaces a message of a conversation: send its 'conversation_id' too.")
        return self

    @property
    def chunks_to_retrieve(self) -> int:
        # as DocsGPT: no document chosen, and no API key choosing them: no retrieval
        return 0 if self.is_none_doc and not self.api_key else self.chunks


class SearchRequest(BaseModel):
    """Retrieval only."""

    question: Question
    chunks: SearchChunks = 4
    api_key: ApiKeyInBody = None
    timings: StrictBool = Field(False, description="The admin only: answer {\"hits\": [...], \"timings\": {...}} "
                                                   "with where the request's time went, in ms.")


class Hit(BaseModel):
    """A retrieved chunk as a client reads it (``chat.answer.hit_dict``)."""

    chunk_id: str
    rank: int
    score: float
    dense_score: float | None
    lexical_score: float | None
    title: str | None
    source: str | None = Field(description="The document's file name or URL (never a folder of the server).")
    link: str | None
    page: int | None
    headings: list[str]
    location: str | None
    text: str
    source_id: str


class AnswerSource(Hit):
    n: int = Field(description="The number the answer cites it by ([n]).")
    cited: bool


class TimedSearch(BaseModel):
    """``/api/search`` for the admin who asks for ``timings``: the hits and where the time went."""

    hits: list[Hit]
    timings: dict[str, float] = Field(description="Milliseconds per phase (embed, embed_lexical, search, fuse, "
                                                  "sql, ...) and the request's total so far.")


class SearchResult(RootModel[list[Hit] | TimedSearch]):
    """The ranked hits; for the admin who asks for ``timings``, the hits with the timings."""


class Answer(BaseModel):
    conversation_id: str
    message_id: str
    answer: str
    sources: list[AnswerSource]


class AnswerFailedError(BaseModel):
    """The LLM failed (unreachable, refused, timed out); the message is stored with status ``failed``."""

    error: str
    conversation_id: str
    message_id: str


class StreamEvent(BaseModel):
    """One ``data:`` frame of ``/stream``."""

    type: Literal["message_id", "answer", "source", "id", "end", "error"]
    answer: str | None = None
    source: list[AnswerSource] | None = None
    id: str | None = None
    message_id: str | None = None
    conversation_id: str | None = None
    error: str | None = None


describe(bp, StreamEvent)

STREAM_RESPONSE = {
    "description": "`data: {json}\\n\\n` frames (StreamEvent): `message_id`, `answer` (many), `source`, `id`, "
                   "`end`, or one `error` (the LLM failed; the message is stored as `failed`).",
    "headers": {"X-Owner-Token": {"description": "A new owner token, when the request had none.",
                                  "schema": {"type": "string"}}},
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


def _start(body: AnswerRequest):
    state = docstune()
    with timed() as timings:  # logged at DEBUG when the answer is complete (chat.answer.stream_answer)
        pending = start_answer(
            state, state.llm, state.template, current_owner(create=True), body.question,
            conversation_id=body.conversation_id, history=body.history, chunks=body.chunks_to_retrieve,
            source_ids=current_source_filter(), replace_index=body.index,
            history_limit=state.settings.history_max_messages,
        )
    pending.timings = timings
    return state, pending


@bp.post("/stream", operation_id="stream", responses={200: STREAM_RESPONSE})
def stream(body: AnswerRequest):
    """Ask; the answer streams as Server-Sent Events

    Bad input is refused before streaming starts, with a 4xx JSON error and nothing stored.
    """
    state, pending = _start(body)
    return sse_response(stream_answer(state, state.llm, pending, state.settings.llm_deadline))


@bp.post("/api/answer", operation_id="answer",
         responses={200: Answer, 502: AnswerFailedError, 504: AnswerFailedError})
def answer(body: AnswerRequest):
    """Ask; the whole answer as one JSON reply"""
    state, pending = _start(body)
    return jsonify(answer_once(state, state.llm, pending, state.settings.llm_deadline))


@bp.post("/api/search", operation_id="search", responses={200: SearchResult})
def search_chunks(body: SearchRequest):
    """Retrieval only: the ranked chunks with their scores

    With `"timings": true` and the admin token, `{"hits": [...], "timings": {...}}`: milliseconds per phase.
    """
    if body.timings and not is_admin_request():
        raise AdminAuthRequired("'timings' is for the admin: send 'Authorization: Bearer <admin token>' "
                                "(ADMIN_TOKEN), or leave 'timings' out.")
    with timed() as timings:
        hits = search(docstune(), body.question, k=body.chunks, source_ids=current_source_filter())
        if not body.timings:
            with phase("json"):
                response = jsonify(hits)
    log_timings("search", timings)
    return jsonify({"hits": hits, "timings": timings.as_ms()}) if body.timings else response


@bp.errorhandler(AnswerFailed)
def answer_failed(exc: AnswerFailed):
    body = {"error": exc.message, "conversation_id": exc.pending.conversation_id, "message_id": exc.pending.message_id}
    return jsonify(body), exc.status_code


def sse_response(events) -> Response:
    """``data: {json}\\n\\n`` frames; closing the response (client gone) closes ``events`` too."""

    def frames():
        try:
            for event in events:
                yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        finally:
            events.close()

    # no-store: the frames are one owner's conversation
    return Response(frames(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
