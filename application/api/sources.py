"""Admin: upload documents (ingested by a background job), list and delete them, follow tasks."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from application.api.context import chat_state, get_services, require_admin
from application.api.jobs import job_id_of
from application.request_values import text
from application.tasks import task_view
from application.uploads import stage_uploads, start_ingest_job

bp = Blueprint("sources", __name__)


@bp.post("/api/upload")
@require_admin
def upload():
    state = chat_state()
    settings = state.settings
    # the JSON limit is far too small for documents; this route gets its own
    request.max_content_length = settings.upload_max_bytes * settings.upload_max_files + (1 << 20)
    staged = stage_uploads(request.files.getlist("file") + request.files.getlist("files"), settings)
    job = start_ingest_job(state.services, staged)
    names = [original for original, _ in staged.files]
    return jsonify({"task_id": job["id"], "job_id": job["id"], "status": task_view(job)["status"],
                    "files": names}), 202


@bp.get("/api/task_status")
@require_admin
def task_status():
    return jsonify(task_view(get_services().jobs.store.get(job_id_of(request.args.get("task_id"), "task_id"))))


@bp.get("/api/sources")
@require_admin
def list_sources():
    return jsonify(get_services().list_sources())


@bp.delete("/api/sources/<path:source_id>")
@require_admin
def delete_source(source_id: str):
    return jsonify(get_services().delete_source(text(source_id, "source_id", max_chars=4096, strip=False)))
