"""Admin: background jobs (ingest, reindex, retrain, promote) as rows with status and progress."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import BaseModel, BeforeValidator, Field, model_validator

from application.api.context import docstune
from application.api.fields import ID_CHARS, OptionalBody, Parameters, Text, WholeNumber, refuse
from application.api.groups import ADMIN
from application.api.openapi import Error
from application.db.jobs import JOB_KINDS, JOB_STATUSES
from application.request_values import some_of

bp = ADMIN.blueprint("jobs", __name__, tag="admin")

#: a job id in a URL or a query (PostgreSQL cannot even compare text holding NUL)
JobId = Text(ID_CHARS, strip=False)


class JobPath(BaseModel):
    job_id: JobId = Field(description="A job id.")


class JobsQuery(Parameters):
    limit: WholeNumber(1, 500) = Field(50, description="How many.")
    kind: Annotated[Literal[JOB_KINDS] | None, BeforeValidator(lambda kind: kind or None)] = Field(
        None, description="Only jobs of this kind (left out or empty: every kind).")


class Progress(BaseModel):
    """How far a job (or a source's sync) got."""

    done: int | None = None
    total: int | None = None
    percent: float | None = None
    message: str | None = None


class Job(BaseModel):
    """A background job: what it is, where it stands, what it made."""

    id: str
    kind: Literal[JOB_KINDS]
    status: Literal[JOB_STATUSES]
    progress: Progress | None
    params: dict[str, Any]
    result: Any = Field(description="What the job made (its kind says the shape); null until it is done.")
    error: str | None
    cancel_requested: bool
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class JobList(BaseModel):
    jobs: list[Job]


class JobAccepted(BaseModel):
    """The job was queued; follow it at ``/api/jobs/{job_id}``."""

    job_id: str
    status: str


@bp.get("/api/jobs", operation_id="listJobs", responses={200: JobList})
def list_jobs(query: JobsQuery):
    """Background jobs, newest first"""
    return jsonify({"jobs": docstune().jobs.store.list(limit=query.limit, kind=query.kind)})


@bp.get("/api/jobs/<job_id>", operation_id="getJob", responses={200: Job, 404: Error})
def get_job(path: JobPath):
    """One job"""
    return jsonify(docstune().jobs.store.get(path.job_id))


@bp.post("/api/jobs/<job_id>/cancel", operation_id="cancelJob", responses={200: Job, 404: Error, 409: Error})
def cancel_job(path: JobPath):
    """Cancel a job (queued: at once; running: at its next batch)

    The answer is the job, with `cancel_requested`.
    """
    return jsonify(docstune().jobs.store.request_cancel(path.job_id))


class NoOptions(OptionalBody):
    """Nothing, or ``{}``: this job takes no options."""

    model_config = {"extra": "forbid", "json_schema_extra": {"maxProperties": 0}}

    @model_validator(mode="before")
    @classmethod
    def _none(cls, data):
        if isinstance(data, dict) and data:
            raise refuse(f"Unknown option(s): {some_of(sorted(data, key=str))}; {request.method} {request.path} "
                         "takes none.", whole=True)
        return data


def submit_job_without_options(kind: str):
    """``202 {job_id, status}`` for a job that takes no options (its view takes ``body: NoOptions``)."""
    job = docstune().jobs.submit(kind, {})
    return jsonify({"job_id": job["id"], "status": job["status"]}), 202
