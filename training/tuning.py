"""Fitting the fusion weight from labelled questions, and judging one pipeline against another.

A *pipeline* is an embedding model plus the retrieval settings it serves with
(``training.fusion.FusionSettings``: mode, method, normalisation, the dense share ``weight``).
Everything here works on cached legs (``training.retrieval_eval.RetrievalLegs``), so it costs
milliseconds once the legs are there:

* :func:`tune_fusion` fits the weight on a set of questions (``docstune tune``, the tune job:
  the legs come from the serving collection itself) and reports it **cross-fitted**: each
  question is ranked with a weight fitted on the other folds, never on itself, so the number
  says how the fitted weight does on questions it has not seen.
* :func:`judge_pipelines` is the retrain's gate: the serving pipeline (serving model, serving
  weight — or its weight re-fitted, whichever is better) against the candidate pipeline
  (candidate model, its weight fitted on the same held-out questions, cross-fitted), then
  :func:`training.gate.judge` on the two pipelines' per-question metrics (paired).

Example::

    from training.fusion import FusionSettings
    from training.tuning import tune_fusion
    tuned = tune_fusion(legs, FusionSettings(weight=0.5))
    tuned.settings.weight, tuned.cross_fitted["mrr@10"], tuned.baseline["mrr@10"]
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from training.fusion import FusionSettings
from training.gate import GateConfig, GateVerdict, judge
from training.records import TrainingDataError
from training.retrieval_eval import (
    RetrievalLegs,
    WEIGHT_GRID,
    describe_fusion,
    evaluate_pipeline,
    fit_weight,
    mean_metrics,
    ranking_metrics,
    rank_query,
)

# fewer questions than this fit noise, not a weight (the curve of 10 questions moves by 0.1 a question)
MIN_TUNE_QUESTIONS = 10
CROSS_FIT_FOLDS = 5
WEIGHTED_METHODS = ("convex", "wrrf", "dbsf")  # rrf has no weight to fit


def check_tunable(base: FusionSettings) -> None:
    """Raise (one line) when ``base`` has no weight to fit."""
    if base.mode != "hybrid":
        raise TrainingDataError(f"RETRIEVAL_MODE={base.mode}: only a hybrid search has a fusion weight to fit")
    if base.method not in WEIGHTED_METHODS:
        raise TrainingDataError(f"FUSION_METHOD={base.method} has no weight to fit; "
                                f"use one of {', '.join(WEIGHTED_METHODS)}")


def folds_of(query_ids, folds: int = CROSS_FIT_FOLDS, seed: int = 0) -> list[list[str]]:
    """``query_ids`` in ``folds`` seeded random parts of (nearly) equal size."""
    shuffled = sorted(query_ids)
    random.Random(seed).shuffle(shuffled)
    count = max(2, min(folds, len(shuffled)))
    return [sorted(shuffled[i::count]) for i in range(count)]


@dataclass
class CrossFitted:
    """Per-query metrics, each query ranked with the weight fitted on the other folds."""

    per_query: dict[str, dict[str, float]]
    fold_weights: list[float]

    @property
    def mean(self) -> dict[str, float]:
        return mean_metrics(self.per_query)


def cross_fit(legs: RetrievalLegs, base: FusionSettings, *, query_ids=None, folds: int = CROSS_FIT_FOLDS,
              seed: int = 0, metric: str = "mrr@10", grid=WEIGHT_GRID) -> CrossFitted:
    """The cross-fitted metrics of fitting ``base``'s weight (ties go to ``base.weight``)."""
    qids = list(query_ids) if query_ids is not None else legs.query_ids
    per_query: dict[str, dict[str, float]] = {}
    weights = []
    parts = folds_of(qids, folds, seed)
    for held in parts:
        fit_on = [q for q in qids if q not in set(held)]
        fitted = fit_weight(legs, lambda w: replace(base, weight=w), prior=base.weight, grid=grid, metric=metric,
                            query_ids=fit_on)
        weights.append(fitted.weight)
        for qid in held:
            ranked = [item.chunk_id for item in rank_query(legs, qid, fitted.fusion, k=10)]
            per_query[qid] = ranking_metrics(ranked, legs.relevant[qid])
    return CrossFitted(per_query, weights)


@dataclass
class TunedFusion:
    """A weight fitted on ``questions`` questions, with what it is worth on unseen ones."""

    settings: FusionSettings  # the base settings with the weight fitted on every question
    baseline_settings: FusionSettings
    questions: int
    cross_fitted: dict[str, float]  # mean metrics, the weight never fitted on the query it ranks
    baseline: dict[str, float]  # mean metrics of the baseline settings on the same questions
    curve: dict[float, float]  # the metric at each grid weight, on every question
    fold_weights: list[float] = field(default_factory=list)
    metric: str = "mrr@10"
    #: the gate on the cross-fitted weight against the baseline settings, question by question
    verdict: GateVerdict | None = None

    @property
    def gain(self) -> float:
        return self.cross_fitted[self.metric] - self.baseline[self.metric]

    def record(self, origin: str, **extra) -> dict:
        """What a collection row or a registry version stores of it (plain JSON)."""
        return {
            "weight": self.settings.weight, "method": self.settings.method, "normalise": self.settings.normalise,
            "mode": self.settings.mode, "origin": origin, "questions": self.questions, "metric": self.metric,
            "cross_fitted": _rounded(self.cross_fitted), "baseline": _rounded(self.baseline),
            "baseline_weight": self.baseline_settings.weight, "fold_weights": self.fold_weights,
            "verdict": self.verdict.status if self.verdict else None,
            "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra,
        }


def tune_fusion(legs: RetrievalLegs, base: FusionSettings, *, metric: str = "mrr@10",
                min_questions: int = MIN_TUNE_QUESTIONS, folds: int = CROSS_FIT_FOLDS,
                grid=WEIGHT_GRID, gate: GateConfig | None = None) -> TunedFusion:
    """Fit ``base``'s weight on every question of ``legs``; ``base`` itself is the baseline.

    ``verdict`` is the gate (``training.gate.judge``) on the cross-fitted metrics against the
    baseline's, per question: a caller stores the weight only when it says ``better``. Measured
    through the API (docs/training.md): a weight fitted on rated questions that gained a little
    on them, without evidence, lost on other questions.
    """
    check_tunable(base)
    qids = legs.query_ids
    if len(qids) < min_questions:
        raise TrainingDataError(f"{len(qids)} rated questions to fit the fusion weight on; at least {min_questions} "
                                f"are needed (a weight fitted on fewer follows noise)")
    if not legs.dense or not legs.lexical:
        raise TrainingDataError("fitting the fusion weight needs both legs (dense and lexical)")
    fitted = fit_weight(legs, lambda w: replace(base, weight=w), prior=base.weight, grid=grid, metric=metric)
    crossed = cross_fit(legs, base, folds=folds, metric=metric, grid=grid)
    baseline = evaluate_pipeline(legs, base)
    gate = replace(gate or GateConfig(), metric=metric)
    verdict = judge(baseline.per_query, crossed.per_query, gate)
    return TunedFusion(fitted.settings, base, len(qids), crossed.mean, baseline.mean, fitted.curve,
                       crossed.fold_weights, metric, verdict)


@dataclass
class PipelineJudgement:
    """The retrain's gate over pipelines: every measured row, the candidate's fitted settings, the verdict."""

    baseline: dict[str, float]  # the serving pipeline
    candidate: dict[str, float]  # the candidate model with its fitted weight (cross-fitted)
    candidate_settings: FusionSettings
    serving_settings: FusionSettings
    verdict: GateVerdict
    rows: dict[str, dict[str, float]]  # label -> mean metrics, for the report (dense-only, lexical, pipelines)
    questions: int
    baseline_per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    candidate_per_query: dict[str, dict[str, float]] = field(default_factory=dict)


def judge_pipelines(baseline_legs: RetrievalLegs, candidate_legs: RetrievalLegs, serving: FusionSettings,
                    gate: GateConfig | None = None, *, baseline_label: str = "active",
                    folds: int = CROSS_FIT_FOLDS) -> PipelineJudgement:
    """Serving model + serving settings against candidate model + a weight fitted for it.

    Both leg sets must hold the same questions (the held-out ones) and the same lexical leg. The
    candidate's weight is fitted on those questions and its metrics are cross-fitted (each question
    ranked with a weight fitted without it), so the gate does not reward fitting the test set.
    The baseline is the serving pipeline, or the serving model with its weight re-fitted the same
    way when that is better: a model that only wins through a weight a tune would give the
    serving model too is not better. A serving setting without a weight (dense, lexical, rrf) is
    kept as it is for the candidate.
    """
    qids = baseline_legs.query_ids
    if qids != candidate_legs.query_ids:
        raise ValueError("the two pipelines must be judged on the same questions")
    metric = (gate or GateConfig()).metric
    baseline = evaluate_pipeline(baseline_legs, serving).per_query
    baseline_name = f"{baseline_label} · {describe_fusion(serving)}"
    tunable = serving.mode == "hybrid" and serving.method in WEIGHTED_METHODS and len(qids) >= 2
    if tunable:
        fitted = fit_weight(candidate_legs, lambda w: replace(serving, weight=w), prior=serving.weight)
        settings = fitted.settings
        candidate = cross_fit(candidate_legs, serving, folds=folds).per_query
        # what a tune alone would give the serving model: a new model must beat that, not a stale weight
        refitted = cross_fit(baseline_legs, serving, folds=folds).per_query
        if mean_metrics(refitted)[metric] > mean_metrics(baseline)[metric]:
            baseline, baseline_name = refitted, f"{baseline_label} · weight re-fitted (cross-fitted)"
    else:
        settings = serving
        candidate = evaluate_pipeline(candidate_legs, serving).per_query
    rows = {baseline_name: mean_metrics(baseline),
            f"candidate · {describe_fusion(settings)}" + (" (fitted, cross-fitted)" if tunable else ""): mean_metrics(candidate)}
    if baseline_name.endswith("(cross-fitted)"):
        rows[f"{baseline_label} · {describe_fusion(serving)}"] = evaluate_pipeline(baseline_legs, serving).mean
    if serving.mode != "dense":
        rows[f"{baseline_label} · dense"] = evaluate_pipeline(baseline_legs, replace(serving, mode="dense")).mean
        rows["candidate · dense"] = evaluate_pipeline(candidate_legs, replace(serving, mode="dense")).mean
        rows[f"lexical ({baseline_legs.lexical_label or 'bm25'})"] = evaluate_pipeline(
            baseline_legs, replace(serving, mode="lexical")).mean
    return PipelineJudgement(mean_metrics(baseline), mean_metrics(candidate), settings, serving, judge(baseline, candidate, gate),
                             rows, len(qids), baseline, candidate)


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in metrics.items()}
