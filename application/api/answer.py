"""Asking: ``POST /stream`` (SSE), ``POST /api/answer`` (one JSON reply), ``POST /api/search`` (retrieval only)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, jsonify

from application.api.context import chat_state, current_owner, current_source_filter, json_body
from application.chat.answer import (
    AnswerFailed,
    answer_once,
    parse_answer_request,
    search_hits,
    start_answer,
    stream_answer,
)

bp = Blueprint("answer", __name__)


def _start(body):
    state = chat_state()
    request = parse_answer_request(body, state.settings)
    request.source_ids = current_source_filter()
    owner = current_owner(create=True)
    pending = start_answer(
        state.services, state.llm, state.template, request, owner, history_limit=state.settings.history_max_messages
    )
    return state, pending


@bp.post("/stream")
def stream():
    state, pending = _start(json_body())
    return sse_response(stream_answer(state.services, state.llm, pending, state.settings.llm_deadline))


@bp.post("/api/answer")
def answer():
    state, pending = _start(json_body())
    return jsonify(answer_once(state.services, state.llm, pending, state.settings.llm_deadline))


@bp.post("/api/search")
def search():
    state = chat_state()
    body = json_body()
    return jsonify(search_hits(state.services, body, state.settings, source_ids=current_source_filter()))


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

    return Response(
        frames(),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
