"""The gate: is a candidate **better** than what serves, **worse**, or is there **not enough evidence**?

Both are measured on the same evaluation questions, and the gate compares them *per question*
(paired): each question's gate metric (default MRR@10) for the candidate minus the baseline's.
A paired bootstrap of the mean difference gives a confidence interval (``confidence``, 95 %), and
a paired test must agree with it (``statistic``, GATE_STATISTIC): the Wilcoxon signed-rank test
(default: the questions that moved, each weighed by the rank of how far it moved) or the exact sign
test (only how many were won and lost; the gate's rule until bench/gate_power.py measured that
it promotes a real +0.03 MRR@10 gain less often at the same false-promotion rate, docs/training.md).
The questions won, lost and tied are counted, and the sign test's p-value is always reported.

* ``not_enough_evidence`` when there are fewer than ``min_questions`` evaluation questions, or
  when the interval holds 0 or the paired test does not agree with it, or when the gain, though
  real, is below ``min_improvement``. It says how many more evaluation questions would likely
  (``NEEDED_POWER``, 80 %) settle it (``needed_questions``; None when the candidate is not ahead,
  so more questions would not make it better).
* ``worse`` when the interval lies below 0 and the paired test agrees (p below ``1 - confidence``),
  or when the gate metric rose but another headline metric fell by more than ``tolerance`` and by
  more than one question's worth (:func:`guard_tolerance`).
* ``better`` when the interval lies above 0, the paired test agrees, the gain is at least
  ``min_improvement`` and no other headline metric fell by more than that. Only
  ``better`` is ever promoted by a policy (``auto_promote``).

The bootstrap is seeded: the same numbers give the same verdict.

Example::

    from training.gate import GateConfig, judge
    baseline = {"q1": {"mrr@10": 0.5}, "q2": {"mrr@10": 1.0}}
    candidate = {"q1": {"mrr@10": 1.0}, "q2": {"mrr@10": 1.0}}
    verdict = judge(baseline, candidate, GateConfig(min_questions=30))
    assert verdict.status == "not_enough_evidence" and verdict.needed_questions
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field

from training.evaluate import HEADLINE_METRICS
from training.records import TrainingDataError

VERDICTS = ("better", "worse", "not_enough_evidence")
#: the paired test that must agree with the bootstrap interval (GATE_STATISTIC); bench/gate_power.py measured both
STATISTICS = ("wilcoxon", "sign")
DEFAULT_STATISTIC = "wilcoxon"
TEST_NAMES = {"wilcoxon": "Wilcoxon signed-rank test", "sign": "sign test"}
# fewer evaluation questions than this and a difference is mostly which questions happened to be
# asked: one question moves MRR@10 by up to 1/n (docs/training.md, "The gate")
DEFAULT_MIN_QUESTIONS = 30
BOOTSTRAP_RESAMPLES = 4000
SHOWN_QUESTIONS = 10  # the largest wins and losses listed in the report
TIE = 1e-12  # a per-question difference this small is a tie
# the fewest moved questions, all one way, that either paired test can call (2/2**6 < 0.05)
MIN_MOVED = 6
EXACT_WILCOXON = 60
# "would likely settle it": the evaluation questions that give the candidate this chance of being promoted
NEEDED_POWER = 0.8  # up to this many non-zero differences the signed-rank p-value is exact


@dataclass(frozen=True)
class GateConfig:
    metric: str = "mrr@10"
    min_improvement: float = 0.01
    tolerance: float = 0.01
    min_questions: int = DEFAULT_MIN_QUESTIONS
    confidence: float = 0.95
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = 0
    headline_metrics: tuple[str, ...] = HEADLINE_METRICS
    statistic: str = DEFAULT_STATISTIC  # the paired test that must agree with the interval: one of STATISTICS

    def __post_init__(self):
        if self.statistic not in STATISTICS:
            raise TrainingDataError(f"gate statistic {self.statistic!r}: use one of {', '.join(STATISTICS)}")


@dataclass
class GateVerdict:
    status: str  # one of VERDICTS
    reason: str
    metric: str
    baseline: float  # mean of the gate metric over the questions
    candidate: float
    deltas: dict[str, float] = field(default_factory=dict)  # mean difference of each headline metric
    questions: int = 0
    interval: tuple[float, float] | None = None  # bootstrap interval of the mean difference of ``metric``
    confidence: float = 0.95
    wins: int = 0
    losses: int = 0
    ties: int = 0
    sign_p_value: float | None = None
    statistic: str = DEFAULT_STATISTIC  # the paired test the verdict rests on (with the interval)
    p_value: float | None = None  # that test's two-sided p-value
    needed_questions: int | None = None  # more evaluation questions that would likely settle it
    #: the questions that moved most: ``[{"query_id", "baseline", "candidate"}]``, wins then losses
    changed: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "better"

    @property
    def test_name(self) -> str:
        """The paired test the verdict rests on, in words."""
        return TEST_NAMES.get(self.statistic, self.statistic)

    @property
    def label(self) -> str:
        return self.status.replace("_", " ")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["interval"] = list(self.interval) if self.interval else None
        return data


PerQuery = dict[str, dict[str, float]]


def paired_bootstrap(differences: list[float], confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES,
                     seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``differences`` (one per question, paired)."""
    import numpy as np

    values = np.asarray(differences, dtype=np.float64)
    if len(values) == 0:
        raise ValueError("no differences to resample")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven if neither side were better."""
    n = wins + losses
    if n == 0:
        return 1.0
    extreme = min(wins, losses)
    tail = sum(math.comb(n, k) for k in range(extreme + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def wilcoxon_signed_rank(differences: list[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros dropped, tied sizes share a rank).

    Exact (every sign pattern of the non-zero differences, with their tied ranks) up to
    ``EXACT_WILCOXON`` non-zero differences, the normal approximation with the tie correction above.
    Like the sign test it counts how many questions moved, so 4 wins among 42 ties stay
    inconclusive (p = 0.125); unlike it, a large win weighs more than a small one.
    """
    import numpy as np

    values = np.asarray([d for d in differences if abs(d) > TIE], dtype=np.float64)
    m = len(values)
    if m == 0:
        return 1.0
    sizes = np.abs(values)
    order = np.argsort(sizes, kind="stable")
    ranks = np.empty(m)
    ranks[order] = np.arange(1, m + 1)
    # tied sizes (within TIE) share their mean rank
    sorted_sizes = sizes[order]
    start = 0
    for end in range(1, m + 1):
        if end == m or sorted_sizes[end] - sorted_sizes[start] > TIE:
            ranks[order[start:end]] = (start + 1 + end) / 2
            start = end
    positive = float(ranks[values > 0].sum())
    total = m * (m + 1) / 2
    extreme = min(positive, total - positive)
    if m <= EXACT_WILCOXON:
        doubled = np.rint(2 * ranks).astype(np.int64)  # tied ranks are halves
        chance = np.zeros(int(doubled.sum()) + 1)
        chance[0] = 1.0
        for rank in doubled:  # the distribution of the doubled positive sum, one sign at a time
            chance = 0.5 * chance + 0.5 * np.concatenate([np.zeros(rank), chance[:len(chance) - rank]])
        tail = float(chance[: int(round(2 * extreme)) + 1].sum())
        return min(1.0, 2 * tail)
    ties = np.unique(np.rint(2 * ranks), return_counts=True)[1]
    variance = m * (m + 1) * (2 * m + 1) / 24 - float((ties ** 3 - ties).sum()) / 48
    if variance <= 0:
        return 1.0
    z = (total / 2 - extreme - 0.5) / math.sqrt(variance)  # continuity-corrected
    return min(1.0, 2 * (1 - statistics.NormalDist().cdf(max(z, 0.0))))


def questions_needed(differences: list[float], confidence: float, power: float = NEEDED_POWER) -> int | None:
    """How many questions in all would give a candidate this far ahead, this spread, a ``power`` chance of ``better``.

    ``((z_confidence + z_power) · sd / gain)²``, the normal approximation of the bootstrap interval
    (at ``power`` 0.5 it is the count at which an interval this wide around this mean would just
    exclude 0); bench/gate_power.py checks it against simulated promotions (docs/training.md).
    At least as many as make ``MIN_MOVED`` questions move at the share that moved so far: with
    fewer, neither paired test can agree, whatever the interval says.
    """
    gain = statistics.fmean(differences)
    if gain <= 0 or len(differences) < 2:
        return None
    spread = statistics.stdev(differences)
    normal = statistics.NormalDist()
    z = normal.inv_cdf(1 - (1 - confidence) / 2) + normal.inv_cdf(power)
    total = math.ceil((z * spread / gain) ** 2) if spread else len(differences)
    moved = sum(abs(d) > TIE for d in differences)
    return max(total, math.ceil(MIN_MOVED * len(differences) / moved))


def guard_tolerance(tolerance: float, questions: int) -> float:
    """How far another headline metric may fall before a gain is refused: ``tolerance``, but never
    less than one question's worth (``1/n``). A mean over n questions moves in steps of up to 1/n, so
    a tolerance finer than that lets a single question veto a gain the interval and the paired test
    have established (Lyft, 75 questions: +0.047 MRR@10, p = 0.045, refused for accuracy@10 −0.013,
    one question; docs/training.md)."""
    return max(tolerance, 1 / questions) if questions else tolerance


def judge(baseline: PerQuery, candidate: PerQuery, config: GateConfig | None = None) -> GateVerdict:
    """Apply the gate to per-question metrics of two pipelines measured on the same questions."""
    config = config or GateConfig()
    if set(baseline) != set(candidate):
        raise ValueError("the gate compares two pipelines on the same questions; their question sets differ")
    qids = sorted(baseline)
    measured = set.intersection(*(set(baseline[q]) & set(candidate[q]) for q in qids)) if qids else set()
    if qids and config.metric not in measured:
        raise TrainingDataError(f"gate metric {config.metric!r} was not measured (measured: "
                                f"{', '.join(sorted(measured)) or 'none'})")
    names = [m for m in dict.fromkeys((config.metric, *config.headline_metrics)) if m in measured]
    n = len(qids)

    def mean(per_query, name):
        return statistics.fmean(per_query[q][name] for q in qids) if qids else 0.0

    deltas = {m: round(mean(candidate, m) - mean(baseline, m), 6) for m in names}
    before, after = mean(baseline, config.metric), mean(candidate, config.metric)
    differences = [candidate[q][config.metric] - baseline[q][config.metric] for q in qids]
    wins = sum(d > TIE for d in differences)
    losses = sum(d < -TIE for d in differences)
    moved = sorted(((d, q) for d, q in zip(differences, qids) if abs(d) > TIE), key=lambda item: -abs(item[0]))
    changed = [{"query_id": q, "baseline": round(baseline[q][config.metric], 6),
                "candidate": round(candidate[q][config.metric], 6)}
               for d, q in sorted(moved[:SHOWN_QUESTIONS], key=lambda item: -item[0])]
    common = dict(metric=config.metric, baseline=before, candidate=after, deltas=deltas, questions=n,
                  confidence=config.confidence, wins=wins, losses=losses, ties=n - wins - losses,
                  sign_p_value=sign_test(wins, losses), changed=changed, statistic=config.statistic)
    common["p_value"] = (common["sign_p_value"] if config.statistic == "sign" else wilcoxon_signed_rank(differences))
    gain = after - before
    change = f"{config.metric} {before:.4f} → {after:.4f} ({gain:+.4f})"
    if n < config.min_questions:
        needed = config.min_questions - n
        return GateVerdict("not_enough_evidence",
                           f"{change} on only {n} evaluation question{'s' * (n != 1)}; the gate needs at least "
                           f"{config.min_questions} (GATE_MIN_QUESTIONS): {needed} more", needed_questions=needed,
                           interval=paired_bootstrap(differences, config.confidence, config.resamples, config.seed)
                           if n else None, **common)
    low, high = paired_bootstrap(differences, config.confidence, config.resamples, config.seed)
    p_value = common["p_value"]
    interval = (f"{config.confidence:.0%} interval [{low:+.4f}, {high:+.4f}], {wins} questions won, {losses} lost, "
                f"{TEST_NAMES[config.statistic]} p = {p_value:.3g}")
    # both must agree: the bootstrap of few non-zero differences among many ties is too sure of itself
    # (4 questions lost and 42 tied put the interval below 0, yet 4 of 4 happens by chance 1 time in 8)
    significant = p_value < 1 - config.confidence
    if high < 0 and significant:
        return GateVerdict("worse", f"{change}: worse ({interval})", interval=(low, high), **common)
    if low <= 0 or high < 0 or not significant:
        total = questions_needed(differences, config.confidence)
        needed = None if total is None else max(1, total - n)
        more = (f"about {needed} more evaluation questions would likely settle it" if needed is not None
                else "the candidate is not ahead, so more questions would not make it better")
        why = ("the interval holds 0" if low <= 0 <= high
               else f"the {TEST_NAMES[config.statistic]} does not agree (too few questions moved, or too little)")
        return GateVerdict("not_enough_evidence", f"{change}: {why} ({interval}); {more}",
                           interval=(low, high), needed_questions=needed, **common)
    if gain < config.min_improvement:
        return GateVerdict("not_enough_evidence",
                           f"{change}: ahead ({interval}) but by less than GATE_MIN_IMPROVEMENT "
                           f"{config.min_improvement:+.4f}, not worth a swap", interval=(low, high), **common)
    allowed = guard_tolerance(config.tolerance, n)
    fallen = {m: d for m, d in deltas.items() if m != config.metric and d < -allowed - TIE}
    bound = (f"the tolerance {allowed:.4f}" if allowed == config.tolerance
             else f"one question of {n} ({allowed:.4f}, above GATE_TOLERANCE {config.tolerance:.4f})")
    if fallen:
        worst = ", ".join(f"{m} {d:+.4f}" for m, d in sorted(fallen.items(), key=lambda kv: kv[1]))
        return GateVerdict("worse", f"{change} ({interval}), but {worst} fell by more than {bound}",
                           interval=(low, high), **common)
    return GateVerdict("better", f"{change}: better ({interval}); no headline metric fell by more than {bound}",
                       interval=(low, high), **common)
