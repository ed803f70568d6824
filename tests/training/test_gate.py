"""The statistical gate: paired per-question comparison, three verdicts."""
import random
import statistics

import pytest

from training.gate import (
    GateConfig, guard_tolerance, judge, paired_bootstrap, questions_needed, sign_test, wilcoxon_signed_rank,
)
from training.records import TrainingDataError


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


def test_one_question_falling_out_of_the_top_10_cannot_veto_an_established_gain():
    # Lyft round 3 (docs/training.md): 75 questions, MRR@10 clearly up, accuracy@10 down by one question
    n = 75
    base = per_query([0.5] * n, **{"accuracy@10": [1.0] * n})
    cand = per_query([1.0] * 30 + [0.5] * 44 + [0.0], **{"accuracy@10": [1.0] * (n - 1) + [0.0]})
    verdict = judge(base, cand, GateConfig(min_questions=30, tolerance=0.01))
    assert verdict.deltas["accuracy@10"] == round(-1 / n, 6) and verdict.deltas["accuracy@10"] < -0.01
    assert verdict.status == "better" and "one question of 75" in verdict.reason
    # two questions are more than one question's worth: the tolerance still refuses
    two = per_query([1.0] * 30 + [0.5] * 43 + [0.0] * 2, **{"accuracy@10": [1.0] * (n - 2) + [0.0] * 2})
    refused = judge(base, two, GateConfig(min_questions=30, tolerance=0.01))
    assert refused.status == "worse" and "accuracy@10 -0.0267" in refused.reason
    # with many questions the stated tolerance is the bound
    assert guard_tolerance(0.01, 400) == 0.01 and guard_tolerance(0.01, 75) == 1 / 75


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
    for statistic, test in (("wilcoxon", "Wilcoxon signed-rank test"), ("sign", "sign test")):
        verdict = judge(base, cand, GateConfig(min_questions=30, statistic=statistic))
        assert verdict.interval[0] > 0 and verdict.sign_p_value == 0.125 and verdict.p_value == 0.125
        assert verdict.status == "not_enough_evidence" and f"{test} does not agree" in verdict.reason
        # mean 0.0435, sd 0.1424: ((1.96 + 0.84) · 0.1424 / 0.0435)² = 84.1, so 85 in all
        assert verdict.needed_questions == 39 and verdict.statistic == statistic
        worse = judge(cand, base, GateConfig(min_questions=30, statistic=statistic))
        assert worse.interval[1] < 0 and worse.status == "not_enough_evidence"


def big_wins_small_losses(n=60, wins=12, losses=7):
    """Few large wins, more small losses than the sign test forgives: what a fine-tune often does."""
    base = [0.5] * wins + [1.0] * losses + [0.5] * (n - wins - losses)
    cand = [1.0] * wins + [0.9] * losses + [0.5] * (n - wins - losses)
    return per_query(base), per_query(cand)


def test_the_signed_rank_test_promotes_large_wins_over_small_losses_that_the_sign_test_cannot_call():
    base, cand = big_wins_small_losses()
    wilcoxon = judge(base, cand, GateConfig(min_questions=30))
    sign = judge(base, cand, GateConfig(min_questions=30, statistic="sign"))
    assert wilcoxon.statistic == "wilcoxon" and wilcoxon.status == "better" and wilcoxon.p_value < 0.01
    assert sign.status == "not_enough_evidence" and sign.p_value == sign.sign_p_value > 0.3
    assert wilcoxon.interval == sign.interval and (wilcoxon.wins, wilcoxon.losses) == (12, 7)
    assert wilcoxon.to_dict()["statistic"] == "wilcoxon" and "Wilcoxon" in wilcoxon.reason


def test_an_equal_candidate_is_promoted_rarely():
    # candidate and baseline drawn alike, 85 % of questions tied (as measured after a retrain): no real gain
    levels = [0.0, 0.1, 0.2, 0.25, 0.333, 0.5, 1.0]
    promoted = 0
    for seed in range(100):
        rng = random.Random(seed)
        base = [rng.choice(levels) for _ in range(150)]
        cand = [b if rng.random() < 0.85 else rng.choice(levels) for b in base]
        promoted += judge(per_query(base), per_query(cand), GateConfig(resamples=1000)).passed
    assert promoted <= 5  # at most 5 % (3 measured)


def test_a_real_gain_with_realistic_ties_is_promoted_on_enough_questions():
    rng = random.Random(5)
    base = [rng.choice([0.0, 0.2, 0.333, 0.5, 1.0]) for _ in range(400)]
    cand = [min(1.0, b + 0.5) if rng.random() < 0.10 else (b / 2 if rng.random() < 0.03 else b) for b in base]
    verdict = judge(per_query(base), per_query(cand))
    assert verdict.status == "better" and verdict.ties > 300


def test_an_unknown_statistic_is_refused():
    with pytest.raises(TrainingDataError, match="wilcoxon, sign"):
        GateConfig(statistic="t-test")


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


def test_signed_rank_p_values_by_hand():
    # 5 wins and no loss: 1 sign pattern of 32 as extreme each way
    assert wilcoxon_signed_rank([0.1, 0.2, 0.3, 0.4, 0.5]) == pytest.approx(2 / 32)
    # the smallest lost: positive rank sums 14 or 15 (or 0, 1) out of 32 patterns
    assert wilcoxon_signed_rank([-0.1, 0.2, 0.3, 0.4, 0.5, 0.0, 0.0]) == pytest.approx(4 / 32)
    # tied sizes share a rank; zeros (ties of the two pipelines) are left out
    assert wilcoxon_signed_rank([0.5, 0.5, 0.5, 0.5] + [0.0] * 42) == pytest.approx(2 / 16)
    assert wilcoxon_signed_rank([0.0, 0.0]) == 1.0
    # above 60 moved questions, the normal approximation: 70 wins and 30 losses, all of one size
    # (rank 50.5 each): W- = 1515 of 5050, var = 100·101·201/24 - (100³ - 100)/48 = 252.5²
    z = (5050 / 2 - 1515 - 0.5) / 252.5
    assert wilcoxon_signed_rank([0.5] * 70 + [-0.5] * 30) == pytest.approx(2 * (1 - statistics.NormalDist().cdf(z)))


def test_questions_needed_for_an_80_percent_chance():
    # mean 0.1, sd 0.20101: ((1.95996 + 0.84162) · 0.20101 / 0.1)² = 31.7
    assert questions_needed([0.3, -0.1] * 50, 0.95) == 32
    assert questions_needed([0.3, -0.1] * 50, 0.95, power=0.5) == 16
    assert questions_needed([-0.1, 0.05] * 20, 0.95) is None
    # no spread at all, yet neither paired test can call fewer than 6 moved questions
    assert questions_needed([0.5] * 5, 0.95) == 6


def test_bootstrap_and_sign_test_helpers():
    low, high = paired_bootstrap([0.1] * 20)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)
    assert sign_test(10, 0) == pytest.approx(2 / 2 ** 10)
    assert sign_test(5, 5) == 1.0
