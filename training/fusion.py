"""Fusing the dense and the lexical leg of a search into one ranking (plain records, no engine).

Both legs return candidates ``[(chunk_id, score), ...]`` best first; ``fuse`` turns them into
one list of ``Fused`` (the fused score and each leg's own score, ``None`` where a leg did not
return the chunk). The service (``application``) and the evaluation (``training.evaluate``,
fitting the weight) call the same function, so what is measured is what serves.

Methods (Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid Retrieval", TOIS 2023):

* ``convex``: ``w·dense' + (1 - w)·lexical'`` of per-query normalised scores (``normalise``:
  ``max`` divides by the leg's best score, ``minmax`` maps the leg's [min, max] to [0, 1]); a
  chunk one leg did not return gets 0 from it. ``weight`` is the dense share.
* ``rrf``: reciprocal rank fusion, ``Σ 1/(k + rank)``; ``wrrf`` weights the two terms by
  ``weight`` and ``1 - weight``.
* ``dbsf``: distribution-based score fusion (Qdrant's): each leg's scores mapped by
  mean ± 3 standard deviations to [0, 1], then summed (weighted like ``convex``).

Example::

    settings = FusionSettings(mode="hybrid", method="convex", weight=0.5)
    fuse([("a", 0.8), ("b", 0.5)], [("b", 7.1), ("c", 3.0)], settings, k=2)
"""
from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass

RETRIEVAL_MODES = ("dense", "lexical", "hybrid")
FUSION_METHODS = ("convex", "rrf", "wrrf", "dbsf")
NORMALISATIONS = ("max", "minmax")

Candidates = list[tuple[str, float]]


@dataclass(frozen=True)
class FusionSettings:
    """How a search combines its legs: what a pipeline version records beside its model."""

    mode: str = "hybrid"
    method: str = "convex"
    weight: float = 0.5  # the dense share (convex, wrrf, dbsf)
    normalise: str = "minmax"
    rrf_k: int = 60
    candidates: int = 50  # per leg, before fusion

    def __post_init__(self):
        if self.mode not in RETRIEVAL_MODES:
            raise ValueError(f"retrieval mode {self.mode!r}: use one of {', '.join(RETRIEVAL_MODES)}")
        if self.method not in FUSION_METHODS:
            raise ValueError(f"fusion method {self.method!r}: use one of {', '.join(FUSION_METHODS)}")
        if self.normalise not in NORMALISATIONS:
            raise ValueError(f"fusion normalisation {self.normalise!r}: use one of {', '.join(NORMALISATIONS)}")
        if not (isinstance(self.weight, (int, float)) and 0.0 <= self.weight <= 1.0):
            raise ValueError(f"fusion weight {self.weight!r}: it is the dense share, a number from 0 to 1")
        if self.rrf_k < 1 or self.candidates < 1:
            raise ValueError("rrf_k and candidates must be at least 1")

    @property
    def uses_dense(self) -> bool:
        return self.mode != "lexical"

    @property
    def uses_lexical(self) -> bool:
        return self.mode != "dense"

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.mode != "hybrid":
            return self.mode
        if self.method == "rrf":
            return f"hybrid:rrf(k={self.rrf_k})"
        if self.method == "convex":
            return f"hybrid:convex-{self.normalise}:{self.weight:g}"
        return f"hybrid:{self.method}:{self.weight:g}"


def fitted_weight(fitted: dict | None, configured: FusionSettings) -> float | None:
    """The weight of a fit record (``training.tuning.TunedFusion.record``) when it was fitted for
    ``configured``'s method and normalisation; None otherwise (a convex-minmax weight means nothing
    to dbsf)."""
    if fitted and fitted.get("method") == configured.method and fitted.get("normalise") == configured.normalise:
        return fitted["weight"]
    return None


@dataclass(frozen=True)
class Fused:
    chunk_id: str
    score: float
    dense_score: float | None
    lexical_score: float | None


def fuse(dense: Candidates, lexical: Candidates, settings: FusionSettings, k: int) -> list[Fused]:
    """The ``k`` best chunks of the two legs under ``settings`` (a single-leg mode uses that leg)."""
    dense_scores, lexical_scores = dict(dense), dict(lexical)
    if settings.mode == "dense":
        fused = dict(dense)
    elif settings.mode == "lexical":
        fused = dict(lexical)
    else:
        fused = _FUSERS[settings.method](dense, lexical, settings)
    ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [Fused(cid, float(score), dense_scores.get(cid), lexical_scores.get(cid)) for cid, score in ranked]


def _normalised(candidates: Candidates, how: str) -> dict[str, float]:
    if not candidates:
        return {}
    scores = [s for _, s in candidates]
    top, bottom = max(scores), min(scores)
    if how == "minmax":
        spread = top - bottom
        return {cid: (s - bottom) / spread if spread > 0 else 1.0 for cid, s in candidates}
    return {cid: s / top if top > 0 else 0.0 for cid, s in candidates}


def _convex(dense: Candidates, lexical: Candidates, settings: FusionSettings) -> dict[str, float]:
    d, lx = _normalised(dense, settings.normalise), _normalised(lexical, settings.normalise)
    w = settings.weight
    return {cid: w * d.get(cid, 0.0) + (1 - w) * lx.get(cid, 0.0) for cid in d.keys() | lx.keys()}


def _rrf(dense: Candidates, lexical: Candidates, settings: FusionSettings, weights=(1.0, 1.0)) -> dict[str, float]:
    fused: dict[str, float] = {}
    for leg, weight in zip((dense, lexical), weights):
        for rank, (cid, _) in enumerate(leg, start=1):
            fused[cid] = fused.get(cid, 0.0) + weight / (settings.rrf_k + rank)
    return fused


def _wrrf(dense: Candidates, lexical: Candidates, settings: FusionSettings) -> dict[str, float]:
    return _rrf(dense, lexical, settings, weights=(settings.weight, 1 - settings.weight))


def _dbsf_normalised(candidates: Candidates) -> dict[str, float]:
    if not candidates:
        return {}
    scores = [s for _, s in candidates]
    mean = statistics.fmean(scores)
    sd = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    low, high = mean - 3 * sd, mean + 3 * sd
    if not math.isfinite(sd) or high <= low:
        return {cid: 1.0 for cid, _ in candidates}
    return {cid: min(1.0, max(0.0, (s - low) / (high - low))) for cid, s in candidates}


def _dbsf(dense: Candidates, lexical: Candidates, settings: FusionSettings) -> dict[str, float]:
    d, lx = _dbsf_normalised(dense), _dbsf_normalised(lexical)
    w = settings.weight
    return {cid: w * d.get(cid, 0.0) + (1 - w) * lx.get(cid, 0.0) for cid in d.keys() | lx.keys()}


_FUSERS = {"convex": _convex, "rrf": _rrf, "wrrf": _wrrf, "dbsf": _dbsf}


RETRIEVAL_SPECS = "dense, lexical, hybrid, or hybrid:<weight> (the dense share, 0 to 1, e.g. hybrid:0.3)"


def parse_retrieval_spec(spec: str, base: FusionSettings) -> FusionSettings:
    """``dense``, ``lexical``, ``hybrid`` (``base``'s method, weight, normalisation) or ``hybrid:0.3``.

    The other settings (method, normalisation, rrf_k, candidates) come from ``base``; anything
    else raises ``ValueError`` with one line naming the accepted forms.
    """
    from dataclasses import replace

    mode, _, weight = spec.strip().lower().partition(":")
    try:
        if mode in RETRIEVAL_MODES and not weight and ":" not in spec:
            return replace(base, mode=mode)
        if mode == "hybrid" and weight:
            value = float(weight)
            if math.isfinite(value):
                return replace(base, mode="hybrid", weight=value)
    except ValueError:
        pass
    raise ValueError(f"retrieval {spec!r}: use {RETRIEVAL_SPECS}")
