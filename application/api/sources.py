"""Admin: upload documents (ingested by a background job), list and delete them, follow tasks; the sources
(web sites, git repositories) that stay in sync."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify, request
from flask_openapi3 import FileStorage
from pydantic import BaseModel, BeforeValidator, Field, RootModel, StrictInt, model_validator

from application.api.context import docstune
from application.api.docsgpt_app import task_view
from application.api.fields import ID_CHARS, Parameters, Text, refuse
from application.api.groups import ADMIN, describe
from application.api.jobs import JobId, Progress
from application.api.openapi import Error
from application.db.models import SYNC_SCHEDULES, SYNC_SOURCE_KINDS
from application.errors import BadRequest, Conflict
from application.ingest.parsers import SUPPORTED_EXTENSIONS
from application.ingest.sync import WEB_MODES
from application.request_values import some_of
from application.uploads import stage_uploads, start_ingest_job

bp = ADMIN.blueprint("sources", __name__, tag="admin")


# -- documents ------------------------------------------------------------------------------------
class UploadForm(Parameters):
    """One or more documents, at most UPLOAD_MAX_FILES files of UPLOAD_MAX_BYTES bytes each."""

    file: list[FileStorage] = Field(default_factory=list, description="The documents.")
    files: list[FileStorage] = Field(default_factory=list, description="The same, under DocsGPT's field name.")


#: what an upload may hold: the types the parsers read (UPLOAD_EXTENSIONS may narrow them on a server);
#: the web UI's file picker is generated from it
class UploadExtension(RootModel[Literal[SUPPORTED_EXTENSIONS]]):
    """A document type an upload may hold (the parsers' SUPPORTED_EXTENSIONS)."""


describe(bp, UploadExtension)


class TaskQuery(Parameters):
    task_id: JobId = Field(description="The `task_id` of an upload.")


class SourcePath(BaseModel):
    source_id: Text(4096, strip=False) = Field(
        description="A source id or its uri (`upload://faq.md`). It may contain `/`.")


class UploadAccepted(BaseModel):
    task_id: str
    job_id: str
    status: str
    files: list[str]


class TaskStatus(BaseModel):
    """A job, Celery-style (DocsGPT's task view)."""

    task_id: str
    job_id: str
    kind: str
    status: Literal["PENDING", "PROGRESS", "SUCCESS", "FAILURE"]
    job_status: str
    progress: Progress | None
    result: Any
    error: str | None
    created_at: str | None
    finished_at: str | None


class DocumentSource(BaseModel):
    """An ingested document."""

    id: str
    uri: str
    title: str | None
    kind: str | None
    size_bytes: int | None
    chunk_count: int | None
    created_at: str | None
    content_hash: str | None = None
    updated_at: str | None = None
    sync_source_id: str | None = Field(None, description="The sync source (GET /api/admin/sources) it came from.")
    origin: str | None = Field(None, description="Where upstream: \"docs/install.md @ 1a2b3c4\" or a URL.")
    missing_since: str | None = Field(None, description="When it disappeared upstream; it is removed after "
                                                        "SYNC_DELETE_GRACE_HOURS.")


@bp.before_request
def _uploads_get_their_own_size_limit():
    # the JSON limit is far too small for documents; set before anything reads the body
    if request.endpoint == f"{bp.name}.upload":
        settings = docstune().settings
        request.max_content_length = settings.upload_max_bytes * settings.upload_max_files + (1 << 20)


@bp.post("/api/upload", operation_id="upload", responses={202: UploadAccepted})
def upload(form: UploadForm):
    """Upload documents (ingested by a background job)"""
    state = docstune()
    staged = stage_uploads(form.file + form.files, state.settings)
    job = start_ingest_job(state, staged)
    names = [original for original, _ in staged.files]
    return jsonify({"task_id": job["id"], "job_id": job["id"], "status": task_view(job)["status"],
                    "files": names}), 202


@bp.get("/api/task_status", operation_id="taskStatus", responses={200: TaskStatus, 404: Error})
def task_status(query: TaskQuery):
    """DocsGPT's task view of a job"""
    return jsonify(task_view(docstune().jobs.store.get(query.task_id)))


@bp.get("/api/sources", operation_id="listSources", responses={200: RootModel[list[DocumentSource]]})
def list_sources():
    """The ingested documents"""
    return jsonify(docstune().documents.list())


@bp.delete("/api/sources/<path:source_id>", operation_id="deleteSource", responses={200: DocumentSource, 404: Error})
def delete_source(path: SourcePath):
    """Remove a document, its chunks and vectors"""
    return jsonify(docstune().documents.delete(path.source_id))


# -- sources: web sites and git repositories that stay in sync -----------------------------------
class SyncSourcePath(BaseModel):
    source_id: Text(ID_CHARS, strip=False) = Field(description="A source's `id` (GET /api/admin/sources).")


Schedule = Literal[SYNC_SCHEDULES]
Glob = Text(512)


class SourceOptions(BaseModel):
    """web: mode, max_depth, max_pages; git: branch, include, exclude."""

    mode: Literal[WEB_MODES] | None = None
    max_depth: Annotated[StrictInt, Field(ge=0, le=50)] | None = None
    max_pages: Annotated[StrictInt, Field(ge=0, le=100_000)] | None = None
    branch: Text(256) | None = None
    include: list[Glob] | None = Field(None, description="Globs of the paths to read (git).")
    exclude: list[Glob] | None = Field(None, description="Globs of the paths to leave out (git).")


def _known_fields(data: Any, known: tuple[str, ...], hint: str) -> Any:
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(known), key=str)
        if unknown:
            raise refuse(f"Unknown field {some_of(unknown)}; {hint}.", whole=True)
    return data


def _remote_kind(kind: Any) -> Any:
    if kind in ("folder", "file"):
        raise refuse("must be \"web\" or \"git\": a folder on the server is added with `docstune ingest PATH`.")
    return kind


class NewSyncSource(BaseModel):
    """Over HTTP only web sources and remote git repositories (a path on the server is added with
    `docstune ingest PATH` by someone who may read it)."""

    model_config = {"extra": "forbid"}

    kind: Annotated[Literal["web", "git"], BeforeValidator(_remote_kind)] = Field(description="A folder on the server is added with `docstune ingest PATH`.")
    location: Text(2048) = Field(description="An http(s) URL: a page, a sitemap, a site to crawl, or a git "
                                             "repository.")
    name: Text(512, empty_is_none=True) | None = None
    schedule: Schedule | None = None
    options: SourceOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_fields(cls, data: Any) -> Any:
        return _known_fields(data, tuple(cls.model_fields), "send kind, location, name, schedule and options")


class SyncSourceUpdate(BaseModel):
    model_config = {"extra": "forbid"}

    schedule: Schedule | None = None
    name: Text(512) | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_unknown_fields(cls, data: Any) -> Any:
        return _known_fields(data, tuple(cls.model_fields), "a source's schedule and name can be changed")


class SyncPathNote(BaseModel):
    """A file the last sync could not read, or chose not to."""

    path: str
    reason: str


class SyncReport(BaseModel):
    added: int
    updated: int
    unchanged: int
    removed: int
    chunks_embedded: int
    chunks_reused: int | None = None
    failed: list[SyncPathNote]
    skipped: list[SyncPathNote]
    warnings: list[SyncPathNote] | None = None


class SyncJob(BaseModel):
    """A source's running sync job."""

    id: str
    status: str
    progress: Progress


class SyncSource(BaseModel):
    """Something kept in sync: a folder, the uploaded documents, a web root, a git repository."""

    id: str
    kind: Literal[SYNC_SOURCE_KINDS]
    name: str
    location: str = Field(description="A path or a URL (credentials hidden).")
    schedule: Schedule
    status: Literal["new", "syncing", "ok", "partial", "failed"]
    options: SourceOptions
    document_count: int
    chunk_count: int
    missing_count: int = Field(description="Documents gone upstream, removed after SYNC_DELETE_GRACE_HOURS.")
    last_sync_at: str | None
    next_sync_at: str | None
    last_error: str | None
    last_report: SyncReport | None
    created_at: str | None
    job: SyncJob | None


class SyncStarted(BaseModel):
    """The source, and its (first or next) sync job."""

    source: SyncSource
    job_id: str
    task_id: str


class SyncSourceDeleted(BaseModel):
    id: str
    name: str | None = None
    documents: int


def _with_job(app, source: dict) -> dict:
    """A source as the admin page shows it, with its running sync job (if any)."""
    job = app.jobs.running_sync(source["id"])
    source = {key: value for key, value in source.items() if key != "cursor"}
    source["job"] = ({"id": job["id"], "status": job["status"], "progress": job["progress"]} if job else None)
    return source


def _started(app, source_id: str, job: dict):
    return jsonify({"source": _with_job(app, app.sources.get(source_id)), "job_id": job["id"],
                    "task_id": job["id"]}), 202


@bp.get("/api/admin/sources", operation_id="listSyncSources", responses={200: RootModel[list[SyncSource]]})
def list_sync_sources():
    """The sources documents come from, with their syncs (oldest first)"""
    app = docstune()
    return jsonify([_with_job(app, source) for source in app.sources.list()])


@bp.post("/api/admin/sources", operation_id="addSyncSource", responses={202: SyncStarted, 409: Error})
def add_sync_source(body: NewSyncSource):
    """Add a web page, sitemap or site, or a git repository, and sync it

    A folder on the server is added with `docstune ingest PATH`; a private, loopback or link-local address is
    refused unless WEB_ALLOW_PRIVATE is set.
    """
    app = docstune()
    if body.kind == "git":
        if not body.location.startswith(("http://", "https://")):
            raise BadRequest("Over the API a git repository is an http(s) URL; add other repositories with "
                             "`docstune ingest --git URL` on the server.")
        from application.ingest.web import check_url

        check_url(body.location, app.settings.web_limits())  # no private addresses unless allowed
    options = body.options.model_dump(exclude_none=True) if body.options else {}
    source = app.sources.add(body.kind, body.location, name=body.name, schedule=body.schedule, options=options)
    return _started(app, source["id"], app.jobs.submit_sync(source["id"], trigger="added"))


@bp.get("/api/admin/sources/<source_id>", operation_id="getSyncSource", responses={200: SyncSource, 404: Error})
def get_sync_source(path: SyncSourcePath):
    """One source"""
    app = docstune()
    return jsonify(_with_job(app, app.sources.get(path.source_id)))


@bp.patch("/api/admin/sources/<source_id>", operation_id="updateSyncSource",
          responses={200: SyncSource, 404: Error})
def update_sync_source(path: SyncSourcePath, body: SyncSourceUpdate):
    """Change a source's schedule or name"""
    app = docstune()
    source = app.sources.update(path.source_id, schedule=body.schedule, name=body.name)
    return jsonify(_with_job(app, source))


@bp.delete("/api/admin/sources/<source_id>", operation_id="deleteSyncSource",
           responses={200: SyncSourceDeleted, 404: Error, 409: Error})
def delete_sync_source(path: SyncSourcePath):
    """Remove a source with its documents, chunks and vectors"""
    app = docstune()
    source_id = app.sources.find(path.source_id).id
    running = app.jobs.running_sync(source_id)
    if running is not None:
        raise Conflict(f"This source is being synced (job {running['id']}); cancel the job or wait for it first.")
    return jsonify(app.sources.delete(source_id))


@bp.post("/api/admin/sources/<source_id>/sync", operation_id="syncSource",
         responses={202: SyncStarted, 404: Error, 409: Error})
def sync_source(path: SyncSourcePath):
    """Read a source again now (a job): only what changed is embedded"""
    app = docstune()
    source = app.sources.get(path.source_id)
    if source["kind"] == "upload":
        raise BadRequest("Uploads are not read from anywhere, so they cannot be synced; upload a new version.")
    return _started(app, source["id"], app.jobs.submit_sync(source["id"]))
