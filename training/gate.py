"""The gate: is a candidate model **better** than the one in service, or rejected?

A candidate is ``better`` only if the chosen metric (default MRR@10) rises by at
least ``min_improvement`` **and** no other headline metric falls by more than
``tolerance``. Otherwise it is ``rejected`` and the reason says which rule failed.

Example::

    from training.gate import GateConfig, judge
    verdict = judge({"mrr@10": 0.50, "ndcg@10": 0.60}, {"mrr@10": 0.58, "ndcg@10": 0.61},
                    GateConfig(metric="mrr@10", min_improvement=0.01, tolerance=0.01))
    assert verdict.status == "better"
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from training.evaluate import HEADLINE_METRICS
from training.records import TrainingDataError


@dataclass(frozen=True)
class GateConfig:
    metric: str = "mrr@10"
    min_improvement: float = 0.01
    tolerance: float = 0.01
    headline_metrics: tuple[str, ...] = HEADLINE_METRICS


@dataclass
class GateVerdict:
    status: str  # "better" | "rejected"
    reason: str
    metric: str
    baseline: float
    candidate: float
    deltas: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "better"

    def to_dict(self) -> dict:
        return asdict(self)


def judge(baseline: dict[str, float], candidate: dict[str, float], config: GateConfig | None = None) -> GateVerdict:
    """Apply the gate to two metric dicts measured on the same held-out set."""
    config = config or GateConfig()
    if config.metric not in baseline or config.metric not in candidate:
        known = ", ".join(sorted(baseline)) or "none"
        raise TrainingDataError(f"gate metric {config.metric!r} was not measured (measured: {known})")
    names = [m for m in dict.fromkeys((config.metric, *config.headline_metrics)) if m in baseline and m in candidate]
    deltas = {m: round(candidate[m] - baseline[m], 6) for m in names}
    gain = deltas[config.metric]
    before, after = baseline[config.metric], candidate[config.metric]
    if gain < config.min_improvement:
        reason = (
            f"{config.metric} went from {before:.4f} to {after:.4f} ({gain:+.4f}); "
            f"the gate needs at least {config.min_improvement:+.4f}"
        )
        return GateVerdict("rejected", reason, config.metric, before, after, deltas)
    fallen = {m: d for m, d in deltas.items() if m != config.metric and d < -config.tolerance}
    if fallen:
        worst = ", ".join(f"{m} {d:+.4f}" for m, d in sorted(fallen.items(), key=lambda kv: kv[1]))
        reason = (
            f"{config.metric} rose {gain:+.4f}, but {worst} fell by more than the tolerance {config.tolerance:.4f}"
        )
        return GateVerdict("rejected", reason, config.metric, before, after, deltas)
    reason = f"{config.metric} rose from {before:.4f} to {after:.4f} ({gain:+.4f}); no headline metric fell by more than {config.tolerance:.4f}"
    return GateVerdict("better", reason, config.metric, before, after, deltas)
