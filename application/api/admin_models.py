"""Admin: model versions, promote / rollback (swaps with no downtime), retrain, feedback statistics."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import jsonify, send_file
from pydantic import BaseModel, Field, StrictBool, create_model, model_validator

from application import models_admin
from application.api.context import docstune
from application.api.evaluation import EvaluationSummary
from application.api.fields import OptionalBody, Parameters, Text, WholeNumber, refuse
from application.api.groups import ADMIN
from application.api.jobs import JobAccepted, NoOptions, Progress, submit_job_without_options
from application.api.openapi import Error
from application.errors import BadRequest, Conflict
from training.finetune import LOSSES
from training.pipeline import TrainingOptions

bp = ADMIN.blueprint("admin_models", __name__, tag="admin")

Metrics = dict[str, float]


class VersionPath(BaseModel):
    version: Text(64, strip=False) = Field(description="A registry version, such as `v0002`.")


# -- what the admin page reads -------------------------------------------------------------------------
class ServingRetrieval(BaseModel):
    """The pipeline around the serving model: the retrieval settings, the weight and where it came from."""

    model_config = {"extra": "allow"}

    mode: str
    method: str
    weight: float
    normalise: str
    weight_source: Literal["FUSION_WEIGHT", "fitted", "label-free", "default"]
    weight_detail: str
    fitted: dict[str, Any] | None = None
    running: str
    lexical_version: str | None = None
    lexical_ready: bool | None = None


class ServingModel(BaseModel):
    """What serves now."""

    version: str | None
    model_name: str
    fingerprint: str
    collection: str
    dimension: int
    retrieval: ServingRetrieval


class EvaluationSetInfo(BaseModel):
    questions: int
    fingerprint: str


class Gate(BaseModel):
    """The evaluation gate's verdict on a version (null verdict: no gate ran)."""

    verdict: str | None
    reason: str | None = None
    questions: int | None = None
    interval: tuple[float, float] | None = None
    wins: int | None = None
    losses: int | None = None
    evaluation_set: EvaluationSetInfo | None = None


class VersionMetrics(BaseModel):
    candidate: Metrics
    baseline: Metrics


class ModelVersion(BaseModel):
    version: str
    parent: str | None
    created_at: str | None
    status: str
    gate: Gate
    metrics: VersionMetrics
    report_url: str | None
    plot_url: str | None
    model_path: str
    fingerprint: str | None
    base_model: str | None
    checkpoint_exists: bool
    retrieval: dict[str, Any] = Field(description="The retrieval settings it serves with; {}: registered before them.")


class PendingSwap(BaseModel):
    """A swap being built."""

    job_id: str
    kind: str
    status: str
    version: str | None
    model_name: str | None
    progress: Progress | None


class ModelsOverview(BaseModel):
    serving: ServingModel
    evaluation: EvaluationSummary
    configured: dict[str, Any] | None = Field(description="The configured base model, when it is not what serves.")
    pending: PendingSwap | None
    versions: list[ModelVersion] = Field(description="Newest first.")


class Rollback(BaseModel):
    serving: ServingModel = Field(description="What serves now.")
    previous: ServingModel = Field(description="What served before.")


class LatestRating(BaseModel):
    message_id: str
    question: str
    verdict: Literal["like", "dislike"] | None
    comment: str | None
    voted_at: str
    sources: dict[str, Literal["relevant", "irrelevant"]]


class DayCount(BaseModel):
    day: str
    likes: int
    dislikes: int


class FeedbackStats(BaseModel):
    total: int
    likes: int
    dislikes: int
    by_day: list[DayCount]
    latest: list[LatestRating]


class StatsQuery(Parameters):
    latest: WholeNumber(0, 200) = Field(20, description="How many of the latest ratings to list.")


# -- what a request sends ----------------------------------------------------------------------------
class PromoteOptions(OptionalBody):
    """Nothing, or ``{"force": true}``."""

    force: StrictBool = Field(False, description="Promote even when the gate did not say better.")


class PromoteAccepted(JobAccepted):
    version: str


def _checked_retrain_options(data: Any) -> Any:
    # the rules are training's (TrainingOptions.from_params, through the CLI's parse_retrain_options)
    try:
        return models_admin.parse_retrain_options(data)
    except BadRequest as exc:
        raise refuse(exc.message, whole=True) from None


class _RetrainFlags(OptionalBody):
    model_config = {"extra": "forbid"}

    include_synthetic: StrictBool | None = Field(
        None, description="Also train on synthetic questions about the stored chunks; left out: "
        "RETRAIN_INCLUDE_SYNTHETIC (on).")
    synthetic_chunks: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        None, description="Chunks that get synthetic questions, those the serving model ranks worst first; left out: "
        "RETRAIN_SYNTHETIC_CHUNKS.")
    auto_promote: StrictBool | None = Field(None, description="Promote (re-index and switch) if the gate says better.")

    @model_validator(mode="before")
    @classmethod
    def _training_options(cls, data: Any) -> Any:
        return _checked_retrain_options(data)


#: ``POST /api/admin/retrain``'s body: ``docstune train``'s options (``training.pipeline.TrainingOptions``, its
#: LIMITS) and the two flags of a retrain; the device is the server's setting
RetrainOptions = create_model(
    "RetrainOptions", __base__=_RetrainFlags,
    __doc__="Options; left out: the RETRAIN_* settings, then the data's measured defaults.",
    loss=(Literal[LOSSES] | None, None),
    hard_negatives=(StrictBool | None, None),
    **{name: (Annotated[kind, Field(strict=True, ge=low, le=high)] | None, None)
       for name, kind, low, high in TrainingOptions.LIMITS},
)


# -- the routes ----------------------------------------------------------------------------------------
@bp.get("/api/admin/models", operation_id="listModels", responses={200: ModelsOverview})
def list_models():
    """What serves, what is configured, what is being built, every version"""
    return jsonify(models_admin.models_overview(docstune()))


MARKDOWN = {"description": "Markdown.", "content": {"text/markdown": {"schema": {"type": "string"}}}}
PNG = {"description": "PNG.", "content": {"image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}}}}


@bp.get("/api/admin/models/<version>/report", operation_id="modelReport", responses={200: MARKDOWN, 404: Error})
def model_report(path: VersionPath):
    """A version's evaluation report"""
    return send_file(models_admin.report_file(docstune().settings, path.version, ".md"), mimetype="text/markdown")


@bp.get("/api/admin/models/<version>/plot.png", operation_id="modelPlot", responses={200: PNG, 404: Error})
def model_plot(path: VersionPath):
    """A version's evaluation plot"""
    return send_file(models_admin.report_file(docstune().settings, path.version, ".png"), mimetype="image/png")


@bp.post("/api/admin/models/<version>/promote", operation_id="promoteModel",
         responses={202: PromoteAccepted, 404: Error, 409: Error})
def promote(path: VersionPath, body: PromoteOptions):
    """Serve a version (a swap job: re-embed, then switch with no downtime)"""
    app = docstune()
    force = body.force
    checked = models_admin.validate_promotion(app, path.version, force=force)
    job = app.jobs.submit_swap("promote", {"version": checked.version, "force": force})
    return jsonify({"job_id": job["id"], "version": checked.version, "status": job["status"]}), 202



@bp.post("/api/admin/models/rollback", operation_id="rollbackModel", responses={200: Rollback, 409: Error})
def rollback():
    """Serve the previous model again"""
    app = docstune()
    running = app.jobs.running_swap()
    if running is not None:
        raise Conflict(f"A swap is {running['status']} (job {running['id']}); cancel it or wait before rolling back.")
    before = app.serving.info()
    app.serving.rollback()
    models_admin.follow_serving_in_registry(app)
    return jsonify({"serving": app.serving.info(), "previous": before})


@bp.post("/api/admin/retrain", operation_id="retrain", responses={202: JobAccepted})
def retrain(body: RetrainOptions):
    """Fine-tune a candidate model on the feedback (a job)"""
    options = body.model_dump(exclude_none=True)
    job = docstune().jobs.submit("retrain", options)
    return jsonify({"job_id": job["id"], "status": job["status"]}), 202



@bp.post("/api/admin/tune", operation_id="tune", responses={202: JobAccepted})
def tune(body: NoOptions):
    """Fit the fusion weight of the serving pipeline on the rated questions (a job of seconds)"""
    return submit_job_without_options("tune")



@bp.get("/api/admin/feedback/stats", operation_id="feedbackStats", responses={200: FeedbackStats})
def feedback_stats(query: StatsQuery):
    """Feedback totals, per day, and the latest ratings"""
    from application.chat.feedback_stats import feedback_stats as stats

    return jsonify(stats(docstune().db, latest=query.latest))
