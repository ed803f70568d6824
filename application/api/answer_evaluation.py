"""Admin: answer evaluation as a job — pipelines (model, retrieval mode, weight, k) answer the same questions and
are compared on quality, latency and cost (``application.answer_eval``); the report of a finished run."""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Literal

from flask import jsonify, send_file
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from application.answer_eval import REFERENCES, AnswerConfig, ConfigError
from application.answer_eval.configs import MAX_K
from application.api.admin_models import MARKDOWN
from application.api.context import docstune
from application.api.evaluation import IRJson
from application.api.fields import OptionalBody, Text, WholeNumber, refuse
from application.api.groups import ADMIN
from application.api.jobs import JobAccepted, JobPath
from application.api.openapi import Error
from application.errors import BadRequest, NotFound
from application.request_values import quoted
from training.fusion import RETRIEVAL_MODES

bp = ADMIN.blueprint("answer_evaluation", __name__, tag="admin")

KIND = "evaluate_answers"
MAX_CONFIGS = 6


class AnswerEvaluationConfig(BaseModel):
    """One pipeline to answer with; what is left out is the serving pipeline's."""

    model_config = {"extra": "forbid"}

    name: Text(40) = Field(description="Its name in the table and the plot (unique in the run): letters, digits, "
                                       "'.', '_', '+', '-'.")
    model: Text(64, empty_is_none=True) | None = Field(
        None, description="A registry version (`v3`, `active`); left out: the serving model.")
    mode: Literal[RETRIEVAL_MODES] | None = Field(None, description="Retrieval mode; left out: the serving one.")
    weight: Annotated[float, Field(strict=True, ge=0, le=1)] | None = Field(
        None, description="The dense share of a hybrid fusion, 0 to 1; left out: the serving weight.")
    k: WholeNumber(1, MAX_K) = Field(4, description="Chunks handed to the LLM.")

    @model_validator(mode="after")
    def _an_answer_config(self):
        if self.weight is not None and self.mode in ("dense", "lexical"):
            raise refuse(f"'weight' fuses the dense and lexical legs; a {self.mode} pipeline has one leg (use "
                         "mode 'hybrid', or leave the weight out).", whole=True)
        try:  # the evaluation's own rules (the name's characters among them)
            AnswerConfig(**self.model_dump(exclude_none=True))
        except ConfigError as exc:
            raise refuse(str(exc), whole=True) from None
        return self


class AnswerEvaluationRequest(OptionalBody):
    """What to evaluate on, which pipelines, against which reference, for how much traffic."""

    model_config = {"extra": "forbid"}

    dataset: Literal["frozen"] | IRJson = Field(
        "frozen", description='"frozen": the frozen evaluation set; or an IR JSON object (its `answers`, '
                              "{question id: reference answer}, are what answers are compared with).")
    dataset_name: Text(200, empty_is_none=True) | None = Field(
        None, description="The data set's name in the report (an uploaded file's name).")
    configs: list[AnswerEvaluationConfig] = Field(
        default_factory=lambda: [AnswerEvaluationConfig(name="serving")], min_length=1, max_length=MAX_CONFIGS,
        description="The pipelines to compare (names unique); left out: the serving pipeline alone.")
    reference: Literal[REFERENCES] = Field(
        "auto", description="What answers are compared with: reference answers, the relevant chunk's text, or "
                            "nothing (auto: answers when the set has them, else the relevant chunk).")
    users: WholeNumber(1, 10_000_000) = Field(100, description="Traffic of the monthly cost: users ...")
    questions_per_day: WholeNumber(1, 10_000) = Field(10, description="... and questions per user per day.")
    limit: WholeNumber(1, 100_000) | None = Field(None, description="Answer at most this many questions.")

    @field_validator("dataset", mode="before")
    @classmethod
    def _frozen_or_ir_json(cls, value):
        # one message for the shape it is in (a union would report its other member's complaint)
        if isinstance(value, dict):
            try:
                return IRJson.model_validate(value)
            except ValidationError as exc:
                raise refuse(exc.errors()[0]["msg"], whole=True) from None
        if value != "frozen":
            raise refuse("'dataset' must be \"frozen\" (the frozen evaluation set) or an IR JSON object.", whole=True)
        return value

    @model_validator(mode="after")
    def _unique_names(self):
        seen = set()
        for config in self.configs:
            if config.name in seen:
                raise refuse(f"'configs' names {quoted(config.name)} twice; each pipeline needs its own name.",
                             whole=True)
            seen.add(config.name)
        return self


def _checked_model(app, config: AnswerEvaluationConfig, index: int) -> str | None:
    """The registry version a config names (normalised), or a 400 that lists the registered ones."""
    from application.models_admin import registry_for
    from training.registry import RegistryError

    if config.model is None:
        return None
    try:
        return registry_for(app.settings).get(config.model).version
    except RegistryError as exc:
        raise BadRequest(f"'configs[{index}].model': {exc}.") from exc


def _stage_upload(settings, ir: IRJson) -> str:
    """The uploaded set as a file the job reads (a job's row keeps its parameters, and the job list shows them)."""
    folder = settings.data_dir.resolve() / "answer-evaluations" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.json"
    path.write_text(json.dumps(ir.model_dump(), ensure_ascii=False), encoding="utf-8")
    return str(path)


@bp.post("/api/admin/answer-evaluations", operation_id="evaluateAnswers", responses={202: JobAccepted})
def evaluate_answers(body: AnswerEvaluationRequest):
    """Compare pipelines on whole answers: quality, latency and cost (a job)

    Each pipeline answers every question of the set; the job's result is the summary (per pipeline: judge
    score, similarity to the reference, faithfulness, latency, tokens, cost), and
    `GET /api/admin/answer-evaluations/{job_id}/report` its report.
    """
    app = docstune()
    configs = []
    for index, config in enumerate(body.configs):
        spec = config.model_dump(exclude_none=True)
        if config.model is not None:
            spec["model"] = _checked_model(app, config, index)
        configs.append(spec)
    params = {"configs": configs, "reference": body.reference, "users": body.users,
              "questions_per_day": body.questions_per_day}
    if body.limit is not None:
        params["limit"] = body.limit
    if body.dataset == "frozen":
        params["dataset"] = "frozen"
    else:
        params.update(dataset="file", dataset_file=_stage_upload(app.settings, body.dataset),
                      questions=len(body.dataset.queries))
    if body.dataset_name:
        params["dataset_name"] = body.dataset_name
    job = app.jobs.submit(KIND, params)
    return jsonify({"job_id": job["id"], "status": job["status"]}), 202


@bp.get("/api/admin/answer-evaluations/<job_id>/report", operation_id="answerEvaluationReport",
        responses={200: MARKDOWN, 404: Error})
def report(path: JobPath):
    """The report of a finished answer evaluation (Markdown)"""
    app = docstune()
    job = app.jobs.store.get(path.job_id)
    if job["kind"] != KIND:
        raise NotFound(f"Job {quoted(path.job_id)} is not an answer evaluation (its kind is {quoted(job['kind'])}).")
    if job["status"] != "done":
        raise NotFound(f"The answer evaluation {quoted(path.job_id)} is {job['status']}: it has no report"
                       + (" yet." if job["status"] in ("queued", "running") else "."))
    from application.jobs.handlers import answer_evaluation_dir

    report_path = ((job["result"] or {}).get("files") or {}).get("report")
    if not report_path or answer_evaluation_dir(app.settings, job["id"]) not in Path(report_path).parents:
        raise NotFound(f"The answer evaluation {quoted(path.job_id)} wrote no report.")
    try:
        return send_file(report_path, mimetype="text/markdown")
    except FileNotFoundError as exc:
        raise NotFound(f"The report of {quoted(path.job_id)} is gone from the disk.") from exc
