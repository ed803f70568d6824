"""Admin: the frozen evaluation set — what it holds, IR JSON out and in, reference answers promoted from the
ratings, and the serving pipeline measured on it."""
from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify
from pydantic import BaseModel, Field, model_validator

from application.api.context import docstune
from application.api.feedback import MessageId
from application.api.fields import Text, refuse
from application.api.groups import ADMIN
from application.api.jobs import JobAccepted, NoOptions, submit_job_without_options
from application.api.openapi import Error
from application.errors import BadRequest

bp = ADMIN.blueprint("evaluation", __name__, tag="admin")


class ServingEvaluation(BaseModel):
    """The serving pipeline's latest score on the set."""

    set_fingerprint: str
    questions: int
    collection: str | None
    model_name: str | None
    version: str | None
    retrieval: dict[str, Any] | None
    metrics: dict[str, float]
    trigger: str
    created_at: str | None
    current: bool = Field(description="Measured on the set as it is now.")


class EvaluationSummary(BaseModel):
    """The frozen evaluation set (its size, where its questions came from) and the serving pipeline's latest
    score on it."""

    questions: int
    fingerprint: str
    feedback: int = Field(description="Questions from the ratings.")
    import_: int = Field(alias="import", description="Questions an admin imported.")
    reference_answers: int = Field(description="Questions that have a reference answer.")
    serving: ServingEvaluation | None


class IRJson(BaseModel):
    """IR JSON, as sentence-transformers' InformationRetrievalEvaluator reads it (``training.irjson``)."""

    queries: dict[str, str] = Field(description="{question id: question}")
    corpus: dict[str, str] = Field(description="{chunk id: chunk text}")
    relevant_docs: dict[str, list[str]] = Field(
        description="{question id: [chunk id, ...]} (one id, or BEIR's {id: score}, also)")
    answers: dict[str, str] = Field(default_factory=dict,
                                    description="{question id: reference answer}; optional, DocsTune's own key")

    @model_validator(mode="before")
    @classmethod
    def _its_shape(cls, data: Any) -> Any:
        # training's reader is the one definition of the format (it also takes one id, or {id: score})
        from training.irjson import ir_dataset_from_dict
        from training.records import TrainingDataError

        try:
            ir = ir_dataset_from_dict(data, "the uploaded IR JSON")
        except TrainingDataError as exc:
            raise refuse(f"{exc}.", whole=True) from None
        return {"queries": ir.queries, "corpus": ir.corpus, "relevant_docs": ir.relevant_docs, "answers": ir.answers}


class EvaluationImport(BaseModel):
    added: int
    already_there: int
    unmatched: int = Field(description="Questions whose chunks match no stored chunk.")
    questions: int = Field(description="The set's size now.")
    answers: int = Field(description="Reference answers stored with the imported questions.")


#: the longest reference answer accepted (a long LLM answer is a few thousand characters)
REFERENCE_MAX_CHARS = 20_000


class ReferenceRequest(BaseModel):
    """A liked answer (with a comment) to keep as the reference answer of its question."""

    message_id: MessageId
    answer: Text(REFERENCE_MAX_CHARS) | None = Field(
        None, description="The reference text (an edited answer); default: the message's answer. Its [n] source "
                          "markers are removed either way.")


class EvaluationQuestion(BaseModel):
    """A question of the frozen evaluation set."""

    query_id: str = Field(description="Its id in the exported IR JSON.")
    question: str
    relevant: list[str] = Field(description="The chunk ids that answer it.")
    origin: str = Field(description="feedback | import: how the question joined the set.")
    reference_answer: str | None
    reference_origin: str | None = Field(description="import | feedback: where the reference answer came from.")
    added_at: str | None
    updated_at: str | None


class ReferenceAdded(EvaluationQuestion):
    """The question that keeps the reference answer."""

    added: bool = Field(description="Whether the question joined the set now (false: it was there, and is updated).")


@bp.get("/api/admin/evaluation", operation_id="evaluationSummary", responses={200: EvaluationSummary})
def summary():
    """The frozen evaluation set and the serving pipeline's latest score"""
    from application.db.evaluation_set import evaluation_summary

    return jsonify(evaluation_summary(docstune().db))


@bp.get("/api/admin/evaluation/export", operation_id="exportEvaluation", responses={200: IRJson})
def export():
    """The set as IR JSON over every stored chunk

    `docstune eval --dataset` reads it.
    """
    from application.db.evaluation_set import export_ir

    body = json.dumps(export_ir(docstune().db).to_dict(), ensure_ascii=False)
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="evaluation_set.json"'})


@bp.post("/api/admin/evaluation/import", operation_id="importEvaluation", responses={200: EvaluationImport})
def import_set(body: IRJson):
    """Add IR JSON questions to the set

    Ids or exact chunk texts in `corpus` must match stored chunks; `answers` become the questions' reference answers.
    """
    from application.db.evaluation_set import import_ir
    from training.records import IRDataset, TrainingDataError

    try:
        ir = IRDataset(body.queries, body.corpus, body.relevant_docs, body.answers)
        return jsonify(import_ir(docstune().db, ir))
    except TrainingDataError as exc:
        raise BadRequest(f"{exc}.") from exc


@bp.post("/api/admin/evaluation/references", operation_id="addReferenceAnswer",
         responses={200: ReferenceAdded, 404: Error, 409: Error})
def add_reference(body: ReferenceRequest):
    """Keep a liked answer as its question's reference answer

    The message must be rated thumbs-up with a comment (else 409). Its question joins the evaluation set (or is
    updated there) with the chunks its ratings make relevant (the cited ones and those marked helpful), and the
    answer, without its `[n]` source markers, becomes the question's reference answer.
    """
    from application.db.evaluation_set import add_reference_answer

    return jsonify(add_reference_answer(docstune().db, body.message_id, body.answer))


@bp.post("/api/admin/evaluate", operation_id="evaluate", responses={202: JobAccepted})
def evaluate(body: NoOptions):
    """Add newly rated questions to the set and measure the serving pipeline (a job of seconds)"""
    return submit_job_without_options("evaluate")

