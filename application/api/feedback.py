"""Ratings: ``POST /api/feedback``, and the admin's JSONL export for training."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from application.api.context import current_owner, get_services, json_body, require_admin
from application.chat.export import iter_feedback_jsonl
from application.chat.feedback import parse_feedback_request, record_feedback

bp = Blueprint("feedback", __name__)


@bp.post("/api/feedback")
def feedback():
    request = parse_feedback_request(json_body())
    return jsonify(record_feedback(get_services().db, request, current_owner()))


@bp.get("/api/feedback/export")
@require_admin
def export():
    return Response(
        iter_feedback_jsonl(get_services().db),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": "attachment; filename=feedback.jsonl"},
    )
