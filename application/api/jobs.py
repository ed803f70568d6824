"""Admin: background jobs (ingest, reindex, retrain, promote) as rows with status and progress."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from application.api.context import get_services, require_admin
from application.request_values import text, whole_number

bp = Blueprint("jobs", __name__)


@bp.get("/api/jobs")
@require_admin
def list_jobs():
    limit = whole_number(request.args.get("limit", "50"), "limit", minimum=1, maximum=500)
    return jsonify({"jobs": get_services().jobs.store.list(limit=limit, kind=request.args.get("kind") or None)})


@bp.get("/api/jobs/<job_id>")
@require_admin
def get_job(job_id: str):
    return jsonify(get_services().jobs.store.get(job_id_of(job_id)))


@bp.post("/api/jobs/<job_id>/cancel")
@require_admin
def cancel_job(job_id: str):
    return jsonify(get_services().jobs.store.request_cancel(job_id_of(job_id)))


def job_id_of(value, field: str = "job_id") -> str:
    """A job id from the URL or the query (PostgreSQL cannot even compare text holding NUL)."""
    return text(value, field, max_chars=64, strip=False)
