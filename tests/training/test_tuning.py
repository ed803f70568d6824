"""Fitting the fusion weight and judging pipeline against pipeline, on legs built by hand.

Each query has one relevant chunk ``rel-<q>``; a leg either ranks it first ("right") or buries
it under distractors ("wrong"), so which weight wins is known in advance.
"""
import pytest

from training.fusion import FusionSettings
from training.gate import GateConfig
from training.records import TrainingDataError
from training.retrieval_eval import RetrievalLegs, evaluate_pipeline
from training.tuning import MIN_TUNE_QUESTIONS, cross_fit, folds_of, judge_pipelines, tune_fusion


def leg(qid: str, right: bool, scale: float = 1.0) -> list[tuple[str, float]]:
    distractors = [(f"{qid}-d{i}", scale * (0.9 - 0.1 * i)) for i in range(5)]
    if right:
        return [(f"rel-{qid}", scale * 1.0), *distractors]
    return [*distractors, (f"rel-{qid}", scale * 0.35)]


def make_legs(dense_right: dict[str, bool], lexical_right: dict[str, bool]) -> RetrievalLegs:
    qids = sorted(dense_right)
    return RetrievalLegs(
        relevant={q: frozenset({f"rel-{q}"}) for q in qids},
        dense={q: leg(q, dense_right[q]) for q in qids},
        lexical={q: leg(q, lexical_right[q], scale=12.0) for q in qids},
        lexical_label="bm25-en",
    )


def lexical_mostly_right(n: int = 30) -> RetrievalLegs:
    # lexical finds 80 % of the chunks, dense 30 %
    qids = [f"q{i:02d}" for i in range(n)]
    return make_legs({q: i % 10 < 3 for i, q in enumerate(qids)}, {q: i % 10 >= 2 for i, q in enumerate(qids)})


def test_folds_cover_every_query_once():
    parts = folds_of([f"q{i}" for i in range(23)], folds=5, seed=1)
    assert len(parts) == 5 and sorted(q for p in parts for q in p) == sorted(f"q{i}" for i in range(23))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_dense_heavy_weight_is_moved_toward_the_leg_that_finds_the_chunks():
    legs = lexical_mostly_right()
    serving = FusionSettings(weight=0.95)
    tuned = tune_fusion(legs, serving)
    assert tuned.settings.weight < 0.5 and tuned.settings.method == "convex"
    assert tuned.questions == 30 and tuned.baseline_settings.weight == 0.95
    # cross-fitted: each query ranked by a weight fitted without it, and still clearly better
    assert tuned.cross_fitted["mrr@10"] > tuned.baseline["mrr@10"] + 0.2 and tuned.gain > 0.2
    assert tuned.baseline == pytest.approx(evaluate_pipeline(legs, serving).mean)
    record = tuned.record("docstune tune: test")
    assert record["weight"] == tuned.settings.weight and record["baseline_weight"] == 0.95
    assert record["origin"] == "docstune tune: test" and record["questions"] == 30


def test_a_flat_curve_keeps_the_serving_weight():
    qids = [f"q{i:02d}" for i in range(12)]
    legs = make_legs(dict.fromkeys(qids, True), dict.fromkeys(qids, True))  # both legs always right
    tuned = tune_fusion(legs, FusionSettings(weight=0.7))
    assert tuned.settings.weight == 0.7 and tuned.gain == 0.0


def test_cross_fitting_does_not_reward_a_weight_fitted_on_the_query_itself():
    # half the queries need dense, half lexical, in a pattern no single weight serves: fitting on
    # all of them looks better than what the weight is worth on unseen queries
    qids = [f"q{i:02d}" for i in range(20)]
    legs = make_legs({q: i % 2 == 0 for i, q in enumerate(qids)}, {q: i % 2 == 1 for i, q in enumerate(qids)})
    crossed = cross_fit(legs, FusionSettings(weight=0.5))
    assert len(crossed.per_query) == 20 and len(crossed.fold_weights) == 5
    tuned = tune_fusion(legs, FusionSettings(weight=0.5))
    assert tuned.cross_fitted["mrr@10"] <= tuned.curve[tuned.settings.weight] + 1e-9


@pytest.mark.parametrize("serving, message", [
    (FusionSettings(mode="dense"), "RETRIEVAL_MODE=dense"),
    (FusionSettings(method="rrf"), "FUSION_METHOD=rrf has no weight"),
])
def test_a_pipeline_without_a_weight_cannot_be_tuned(serving, message):
    with pytest.raises(TrainingDataError, match=message):
        tune_fusion(lexical_mostly_right(), serving)


def test_too_few_questions_are_refused_with_the_number_needed():
    legs = lexical_mostly_right(MIN_TUNE_QUESTIONS - 1)
    with pytest.raises(TrainingDataError, match=f"{MIN_TUNE_QUESTIONS - 1} rated questions .* at least {MIN_TUNE_QUESTIONS}"):
        tune_fusion(legs, FusionSettings())


def test_the_gate_prefers_a_better_pipeline_and_refuses_a_worse_one():
    qids = [f"q{i:02d}" for i in range(30)]
    lexical = {q: i % 10 >= 4 for i, q in enumerate(qids)}  # 60 %
    serving_model = make_legs({q: i % 10 < 5 for i, q in enumerate(qids)}, lexical)  # dense 50 %
    better_model = serving_model.with_dense(make_legs(dict.fromkeys(qids, True), lexical).dense, "better")
    worse_model = serving_model.with_dense(make_legs({q: i % 10 == 0 for i, q in enumerate(qids)}, lexical).dense)
    serving = FusionSettings(weight=0.5)
    gate = GateConfig(min_improvement=0.01, tolerance=0.01)

    better = judge_pipelines(serving_model, better_model, serving, gate)
    assert better.verdict.status == "better", better.verdict.reason
    assert better.candidate["mrr@10"] > better.baseline["mrr@10"]
    assert better.candidate_settings.weight > 0.5  # the better dense model earns a larger share
    assert any(label.startswith("lexical") for label in better.rows) and "candidate · dense" in better.rows

    worse = judge_pipelines(serving_model, worse_model, serving, gate)
    assert worse.verdict.status in ("worse", "not_enough_evidence") and not worse.verdict.passed, worse.verdict.reason
    # its own fitted weight leans on the lexical leg; that beats the stale serving weight, but a tune
    # gives the serving model as much, so the baseline is the serving model re-fitted
    assert worse.candidate_settings.weight < 0.5
    stale = worse.rows["active · hybrid:convex-minmax:0.5"]
    assert worse.candidate["mrr@10"] > stale["mrr@10"]
    assert worse.baseline["mrr@10"] > stale["mrr@10"] and "active · weight re-fitted (cross-fitted)" in worse.rows
    assert worse.candidate["mrr@10"] < worse.baseline["mrr@10"] + 0.01


def test_a_dense_only_service_is_judged_as_models_alone():
    qids = [f"q{i:02d}" for i in range(20)]
    base = make_legs({q: i < 10 for i, q in enumerate(qids)}, dict.fromkeys(qids, True))
    better = base.with_dense(make_legs(dict.fromkeys(qids, True), dict.fromkeys(qids, True)).dense)
    judgement = judge_pipelines(base, better, FusionSettings(mode="dense"), GateConfig(min_questions=20))
    assert judgement.candidate_settings.mode == "dense" and judgement.verdict.status == "better"
    assert judgement.verdict.questions == 20 and judgement.verdict.wins == 10 and judgement.verdict.losses == 0
    few = judge_pipelines(base, better, FusionSettings(mode="dense"))  # the default needs 30 questions
    assert few.verdict.status == "not_enough_evidence" and few.verdict.needed_questions == 10
    assert judgement.candidate["mrr@10"] == 1.0 and judgement.baseline["mrr@10"] == pytest.approx(0.5 + 0.5 / 6)
