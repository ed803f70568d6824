"""The statistical gate: paired per-question comparison, three verdicts."""
import random

import pytest

from training.gate import GateConfig, judge, paired_bootstrap, sign_test


def per_query(values, **other):
    return {f"q{i}": {"mrr@10": v, **{k: vs[i] for k, vs in other.items()}} for i, v in enumerate(values)}


def noisy_pair(n, gain, seed=0):
    rng = random.Random(seed)
    base = [rng.choice([0.0, 0.2, 0.25, 0.333, 0.5, 1.0]) for _ in range(n)]
    cand = [min(1.0, max(0.0, b + gain + rng.uniform(-0.3, 0.3))) for b in base]
    return per_query(base), per_query(cand)


def test_a_candidate_better_on_three_questions_is_not_enough_evidence():
    base, cand = per_query([0.2, 0.5, 0.25]), per_query([1.0, 1.0, 1.0])
    verdict = judge(base, cand, GateConfig(min_questions=30))
    assert verdict.status == "not_enough_evidence" and not verdict.passed
    assert verdict.needed_questions == 27 and "27 more" in verdict.reason
    assert (verdict.wins, verdict.losses, verdict.questions) == (3, 0, 3)


def test_a_clear_gain_on_enough_questions_is_better_with_its_interval():
    base, cand = noisy_pair(120, 0.15)
    verdict = judge(base, cand, GateConfig(min_questions=30))
    assert verdict.status == "better" and verdict.passed
    low, high = verdict.interval
    assert 0 < low < verdict.candidate - verdict.baseline < high
    assert verdict.wins > verdict.losses and verdict.sign_p_value < 0.01
    assert "interval" in verdict.reason and verdict.changed


def test_a_clear_loss_is_worse():
    base, cand = noisy_pair(120, -0.15)
    verdict = judge(base, cand, GateConfig(min_questions=30))
    assert verdict.status == "worse" and verdict.interval[1] < 0


def test_noise_around_zero_is_not_enough_evidence_and_says_no_number_helps_when_behind():
    base, cand = noisy_pair(80, 0.0, seed=3)
    verdict = judge(base, cand, GateConfig(min_questions=30))
    assert verdict.status == "not_enough_evidence"
    low, high = verdict.interval
    assert low < 0 < high
    gain = verdict.candidate - verdict.baseline
    if gain > 0:
        assert verdict.needed_questions and "more evaluation questions" in verdict.reason
    else:
        assert verdict.needed_questions is None and "not ahead" in verdict.reason


def test_a_small_real_gain_below_the_minimum_is_not_worth_a_swap():
    base = per_query([0.5] * 60)
    cand = per_query([0.505] * 60)
    verdict = judge(base, cand, GateConfig(min_questions=30, min_improvement=0.01))
    assert verdict.status == "not_enough_evidence" and "GATE_MIN_IMPROVEMENT" in verdict.reason


def test_a_headline_metric_falling_beyond_the_tolerance_makes_even_a_gain_worse():
    n = 60
    base = per_query([0.5] * n, **{"accuracy@10": [1.0] * n})
    cand = per_query([1.0] * n, **{"accuracy@10": [1.0] * (n // 2) + [0.0] * (n // 2)})
    verdict = judge(base, cand, GateConfig(min_questions=30, tolerance=0.05))
    assert verdict.status == "worse" and "accuracy@10" in verdict.reason


def test_the_gate_metric_is_configurable():
    n = 40
    base = per_query([0.5] * n, **{"ndcg@10": [0.4] * n})
    cand = per_query([0.5] * n, **{"ndcg@10": [0.7] * n})
    assert judge(base, cand, GateConfig(metric="ndcg@10", min_questions=30)).status == "better"
    assert judge(base, cand, GateConfig(metric="mrr@10", min_questions=30)).status == "not_enough_evidence"


def test_a_few_wins_among_many_ties_are_not_enough_even_when_the_bootstrap_excludes_zero():
    # 4 questions won, 42 tied: every resample that holds a win is above 0, but 4 of 4 is a coin's 1 in 8
    base = per_query([0.5] * 46)
    cand = per_query([1.0] * 4 + [0.5] * 42)
    verdict = judge(base, cand, GateConfig(min_questions=30))
    assert verdict.interval[0] > 0 and verdict.sign_p_value == 0.125
    assert verdict.status == "not_enough_evidence" and "sign test" in verdict.reason
    worse = judge(cand, base, GateConfig(min_questions=30))
    assert worse.interval[1] < 0 and worse.status == "not_enough_evidence"


def test_the_verdict_is_the_same_every_time():
    base, cand = noisy_pair(50, 0.05, seed=7)
    first, second = judge(base, cand), judge(base, cand)
    assert first.interval == second.interval and first.status == second.status


def test_different_questions_or_a_missing_metric_are_refused():
    with pytest.raises(ValueError):
        judge(per_query([0.5, 0.5]), {"other": {"mrr@10": 1.0}, "q1": {"mrr@10": 1.0}})
    with pytest.raises(Exception, match="not measured"):
        judge(per_query([0.5]), per_query([0.5]), GateConfig(metric="map@100"))


def test_no_questions_at_all_is_not_enough_evidence():
    verdict = judge({}, {}, GateConfig(min_questions=5))
    assert verdict.status == "not_enough_evidence" and verdict.needed_questions == 5


def test_bootstrap_and_sign_test_helpers():
    low, high = paired_bootstrap([0.1] * 20)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    assert sign_test(10, 0) == pytest.approx(2 / 2 ** 10)
    assert sign_test(5, 5) == 1.0
