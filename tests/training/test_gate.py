from training.gate import GateConfig, judge

BASE = {"accuracy@1": 0.50, "accuracy@5": 0.80, "accuracy@10": 0.90, "mrr@10": 0.60, "ndcg@10": 0.65, "map@100": 0.6}


def test_a_candidate_that_raises_mrr_by_the_margin_is_better():
    cand = {**BASE, "mrr@10": 0.65, "accuracy@1": 0.55}
    verdict = judge(BASE, cand, GateConfig(min_improvement=0.02))
    assert verdict.status == "better" and verdict.passed
    assert verdict.deltas["mrr@10"] == 0.05


def test_a_candidate_below_the_margin_is_rejected_with_the_reason():
    verdict = judge(BASE, {**BASE, "mrr@10": 0.605}, GateConfig(min_improvement=0.02))
    assert verdict.status == "rejected" and "mrr@10" in verdict.reason and "+0.0200" in verdict.reason


def test_a_worse_candidate_is_rejected():
    verdict = judge(BASE, {k: v - 0.1 for k, v in BASE.items()})
    assert verdict.status == "rejected"


def test_a_headline_metric_falling_beyond_the_tolerance_rejects_even_a_gain():
    cand = {**BASE, "mrr@10": 0.70, "accuracy@10": 0.80}
    verdict = judge(BASE, cand, GateConfig(tolerance=0.05))
    assert verdict.status == "rejected" and "accuracy@10" in verdict.reason


def test_the_gate_metric_is_configurable():
    cand = {**BASE, "ndcg@10": 0.75}
    assert judge(BASE, cand, GateConfig(metric="ndcg@10")).status == "better"
    assert judge(BASE, cand, GateConfig(metric="mrr@10")).status == "rejected"
