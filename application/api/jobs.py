"""Admin: background jobs (ingest, reindex, retrain, promote) as rows with status and progress."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from application.api.context import get_services, require_admin
from application.errors import BadRequest

bp = Blueprint("jobs", __name__)


@bp.get("/api/jobs")
@require_admin
def list_jobs():
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise BadRequest("limit must be a whole number from 1 to 500.")
    return jsonify({"jobs": get_services().jobs.store.list(limit=int(raw), kind=request.args.get("kind") or None)})


@bp.get("/api/jobs/<job_id>")
@require_admin
def get_job(job_id: str):
    return jsonify(get_services().jobs.store.get(job_id))


@bp.post("/api/jobs/<job_id>/cancel")
@require_admin
def cancel_job(job_id: str):
    return jsonify(get_services().jobs.store.request_cancel(job_id))
