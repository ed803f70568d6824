"""Admin: the retrieval workbench: one question, two or three pipelines, their ranked chunks side by side."""
from __future__ import annotations

from typing import Annotated, Literal

from flask import jsonify
from pydantic import BaseModel, Field

from application.api.answer import Hit, Question
from application.api.context import docstune
from application.api.fields import Text, WholeNumber
from application.api.groups import ADMIN
from application.api.openapi import Error
from application.retrieval.workbench import PipelineSpec, compare
from training.fusion import FUSION_METHODS, NORMALISATIONS, RETRIEVAL_MODES

bp = ADMIN.blueprint("workbench", __name__, tag="admin")

MAX_PIPELINES = 3
MAX_WORKBENCH_K = 50


class WorkbenchPipeline(BaseModel):
    """A model and its fusion settings; anything left out is what serves."""

    model_config = {"extra": "forbid"}

    label: Text(80) | None = Field(None, description="Shown above its column (left out: version and settings).")
    version: Text(64) | None = Field(
        None, description="A registry version (`v0002`); left out, `serving` or `active`: the serving model.")
    mode: Literal[RETRIEVAL_MODES] | None = None
    method: Literal[FUSION_METHODS] | None = None
    normalise: Literal[NORMALISATIONS] | None = None
    weight: Annotated[float, Field(strict=True, ge=0, le=1)] | None = Field(
        None, description="The dense share of a hybrid search, 0 to 1.")


class WorkbenchRequest(BaseModel):
    model_config = {"extra": "forbid"}

    question: Question
    k: WholeNumber(1, MAX_WORKBENCH_K) = Field(10, description="Chunks per pipeline.")
    pipelines: list[WorkbenchPipeline] = Field(min_length=1, max_length=MAX_PIPELINES)


class ChunkRatings(BaseModel):
    """The answers the chunk was retrieved for that were rated, and the marks raters gave it."""

    likes: int
    dislikes: int
    relevant: int
    irrelevant: int


class WorkbenchHit(Hit):
    dense_rank: int | None = Field(description="Its rank in the dense leg (null: not among its candidates).")
    lexical_rank: int | None = Field(description="Its rank in the lexical leg (null: not among its candidates).")
    rated: ChunkRatings


class WorkbenchPipelineDescription(BaseModel):
    version: str | None = Field(description="The registry version (null: the serving model).")
    serving: bool = Field(description="Its dense leg is the serving collection.")
    model_name: str
    fingerprint: str
    pipeline: str = Field(description="The settings in one word, e.g. `hybrid:convex-minmax:0.5`.")
    mode: Literal[RETRIEVAL_MODES]
    method: Literal[FUSION_METHODS]
    normalise: Literal[NORMALISATIONS]
    weight: float
    candidates: int
    weight_source: Literal["request", "FUSION_WEIGHT", "fitted", "label-free", "default"]
    weight_detail: str
    dense_leg: str
    lexical_leg: str | None = Field(description="The lexical tokenizer (null: no lexical vectors yet).")
    encoded_now: int | None = Field(description="Chunks this request encoded (null: a collection served).")
    took_ms: float


class WorkbenchColumn(BaseModel):
    label: str
    description: WorkbenchPipelineDescription
    hits: list[WorkbenchHit]


class WorkbenchComparison(BaseModel):
    question: str
    pipelines: list[WorkbenchColumn]


@bp.post("/api/admin/workbench", operation_id="compareRetrieval",
         responses={200: WorkbenchComparison, 404: Error, 409: Error})
def compare_retrieval(body: WorkbenchRequest):
    """Compare retrieval pipelines on one question

    Each pipeline's top `k` chunks with the fused score, each leg's rank and score, the heading path and how
    often the chunk was in a rated answer. A registry version that does not serve is encoded over the stored
    chunks in memory (409 above 3,000 chunks).
    """
    specs = [PipelineSpec(**pipeline.model_dump()) for pipeline in body.pipelines]
    return jsonify(compare(docstune(), body.question, specs, body.k))
