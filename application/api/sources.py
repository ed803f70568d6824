"""Admin: upload documents (ingested by a background job), list and delete them, follow tasks; the sources
(web sites, git repositories) that stay in sync."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from application.api.context import chat_state, get_services, json_body, require_admin
from application.api.jobs import job_id_of
from application.errors import BadRequest, Conflict
from application.request_values import quoted, text
from application.api.docsgpt_app import task_view
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


# -- sources: web sites and git repositories that stay in sync -----------------------------------
SOURCE_ID_CHARS = 64


def _source_id(value) -> str:
    return text(value, "source_id", max_chars=SOURCE_ID_CHARS, strip=False)


def _with_job(services, source: dict) -> dict:
    """A source as the admin page shows it, with its running sync job (if any)."""
    job = services.jobs.running_sync(source["id"])
    source = {key: value for key, value in source.items() if key != "cursor"}
    source["job"] = ({"id": job["id"], "status": job["status"], "progress": job["progress"]} if job else None)
    return source


@bp.get("/api/admin/sources")
@require_admin
def list_sync_sources():
    services = get_services()
    return jsonify([_with_job(services, source) for source in services.sources.list()])


@bp.post("/api/admin/sources")
@require_admin
def add_sync_source():
    """Add a web page, sitemap or site, or a git repository, and start its first sync."""
    services = get_services()
    source = services.sources.add(**read_new_source(json_body()))
    job = services.jobs.submit_sync(source["id"], trigger="added")
    return jsonify({"source": _with_job(services, services.sources.get(source["id"])), "job_id": job["id"],
                    "task_id": job["id"]}), 202


@bp.get("/api/admin/sources/<source_id>")
@require_admin
def get_sync_source(source_id: str):
    services = get_services()
    return jsonify(_with_job(services, services.sources.get(_source_id(source_id))))


@bp.patch("/api/admin/sources/<source_id>")
@require_admin
def update_sync_source(source_id: str):
    services = get_services()
    body = json_body()
    unknown = sorted(set(body) - {"schedule", "name"})
    if unknown:
        raise BadRequest(f"Unknown field {quoted(unknown[0])}; a source's schedule and name can be changed.")
    source = services.sources.update(
        _source_id(source_id), schedule=text(body.get("schedule"), "schedule", max_chars=16, required=False),
        name=text(body.get("name"), "name", max_chars=512, required=False))
    return jsonify(_with_job(services, source))


@bp.delete("/api/admin/sources/<source_id>")
@require_admin
def delete_sync_source(source_id: str):
    services = get_services()
    source_id = services.sources.find(_source_id(source_id)).id
    running = services.jobs.running_sync(source_id)
    if running is not None:
        raise Conflict(f"This source is being synced (job {running['id']}); cancel the job or wait for it first.")
    return jsonify(services.sources.delete(source_id))


@bp.post("/api/admin/sources/<source_id>/sync")
@require_admin
def sync_source(source_id: str):
    services = get_services()
    source = services.sources.get(_source_id(source_id))
    if source["kind"] == "upload":
        raise BadRequest("Uploads are not read from anywhere, so they cannot be synced; upload a new version.")
    job = services.jobs.submit_sync(source["id"])
    return jsonify({"source": _with_job(services, services.sources.get(source["id"])), "job_id": job["id"],
                    "task_id": job["id"]}), 202


def read_new_source(body: dict) -> dict:
    """The fields of ``POST /api/admin/sources``: over HTTP only web sources and remote git repositories
    (a path on the server is added with `docstune ingest PATH` by someone who may read it)."""
    unknown = sorted(set(body) - {"kind", "location", "name", "schedule", "options"})
    if unknown:
        raise BadRequest(f"Unknown field {quoted(unknown[0])}; send kind, location, name, schedule and options.")
    kind = text(body.get("kind"), "kind", max_chars=16)
    if kind not in ("web", "git"):
        raise BadRequest(f"'kind' must be \"web\" or \"git\" (a folder on the server is added with "
                         f"`docstune ingest PATH`), not {quoted(kind)}.")
    location = text(body.get("location"), "location", max_chars=2048)
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise BadRequest("'options' must be a JSON object.")
    if kind == "git":
        if not location.startswith(("http://", "https://")):
            raise BadRequest("Over the API a git repository is an http(s) URL; add other repositories with "
                             "`docstune ingest --git URL` on the server.")
        from application.ingest.web import check_url

        check_url(location, get_services().settings.web_limits())  # no private addresses unless allowed
    return {"kind": kind, "location": location, "name": text(body.get("name"), "name", max_chars=512, required=False),
            "schedule": text(body.get("schedule"), "schedule", max_chars=16, required=False), "options": options}
