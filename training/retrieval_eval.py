"""Evaluate a retrieval *pipeline* (dense leg + lexical leg + fusion) on an IR data set.

The legs are computed once and cached as plain records (``RetrievalLegs``): per query, the
dense leg's top candidates (cosine of normalised embeddings, as the vector store scores them)
and the lexical leg's (BM25 with the IDF computed over the corpus exactly as Qdrant's
``Modifier.IDF`` does it at query time). Fusing them with :func:`training.fusion.fuse` — the
function the service calls — and scoring the ranking takes milliseconds per setting, so a whole
grid of fusion settings, a fitted weight (:func:`fit_fusion_weight`) or a per-query adaptive
weight (:class:`AdaptiveFusion`) is evaluated in seconds.

Metrics are per query and averaged, with binary relevance: accuracy@1/@3/@5/@10 (hit-rate: at least one relevant
chunk in the top k; sentence-transformers' ``accuracy@k``), MRR@10 and NDCG@10.

Example::

    from plugins import load_embeddings
    from training.fusion import FusionSettings
    from training.irjson import load_ir_json
    from training.retrieval_eval import build_legs, evaluate_pipeline, fit_fusion_weight

    ir = load_ir_json("../shared/data/lyft_10k_ir.json")
    legs = build_legs(ir, dense=load_embeddings("all-MiniLM-L6-v2"), lexical="bm25-en")
    evaluate_pipeline(legs, FusionSettings(mode="dense")).mean["mrr@10"]
    evaluate_pipeline(legs, FusionSettings(method="convex", weight=0.3)).mean["mrr@10"]
    fitted = fit_fusion_weight(legs, method="convex", normalise="max", prior=0.5)
    fitted.weight, fitted.curve[0.5]
"""
from __future__ import annotations

import math
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Sequence, Union

from training.fusion import Candidates, Fused, FusionSettings, fuse
from training.records import IRDataset

METRIC_NAMES = ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10")
# the grid fit_fusion_weight searches: the dense share from 0 to 1 in steps of 0.05
WEIGHT_GRID = tuple(round(i * 0.05, 2) for i in range(21))
DEFAULT_CANDIDATES = FusionSettings().candidates  # per leg, as the service searches

# a fusion is either settings for training.fusion.fuse or a callable with fuse's shape (no settings)
Fuser = Callable[[Candidates, Candidates, int], list[Fused]]
Fusion = Union[FusionSettings, Fuser]


# -- the legs -------------------------------------------------------------------------------
@dataclass
class RetrievalLegs:
    """Each leg's top candidates ``[(chunk_id, score)]`` per query, best first, plus relevance.

    ``dense`` or ``lexical`` may be empty (a pipeline that lacks the leg); ``candidates`` is how
    many each leg kept per query (a setting's own ``candidates`` may only be smaller).
    """

    relevant: dict[str, frozenset[str]]
    dense: dict[str, Candidates] = field(default_factory=dict)
    lexical: dict[str, Candidates] = field(default_factory=dict)
    candidates: int = DEFAULT_CANDIDATES
    dense_label: str = ""
    lexical_label: str = ""

    @property
    def query_ids(self) -> list[str]:
        return sorted(self.relevant)

    def with_dense(self, dense: dict[str, Candidates], label: str = "") -> "RetrievalLegs":
        """The same queries and lexical leg with another dense leg (another model)."""
        return replace(self, dense=dense, dense_label=label)

    def with_lexical(self, lexical: dict[str, Candidates], label: str = "") -> "RetrievalLegs":
        """The same queries and dense leg with another lexical leg (another tokenizer)."""
        return replace(self, lexical=lexical, lexical_label=label)


def relevance_of(ir: IRDataset) -> dict[str, frozenset[str]]:
    """The queries that have at least one relevant chunk in the corpus, with those chunks."""
    relevant = {}
    for qid, cids in ir.relevant_docs.items():
        found = frozenset(cid for cid in cids if cid in ir.corpus)
        if qid in ir.queries and found:
            relevant[qid] = found
    return relevant


def encode_dense_leg(model, ir: IRDataset, *, candidates: int = DEFAULT_CANDIDATES,
                     query_ids: Iterable[str] | None = None, batch_size: int = 32) -> dict[str, Candidates]:
    """Top ``candidates`` chunks per query by cosine similarity.

    ``model`` is an embedding backend (``embed_documents``/``embed_query``, as the service embeds:
    with the backend's own query and document prefixes) or a ``SentenceTransformer`` (``encode``).
    """
    import numpy as np

    chunk_ids = list(ir.corpus)
    qids = list(query_ids) if query_ids is not None else sorted(relevance_of(ir))
    texts = [ir.corpus[cid] for cid in chunk_ids]
    questions = [ir.queries[qid] for qid in qids]
    if hasattr(model, "embed_documents") and hasattr(model, "embed_query"):
        documents = np.asarray(model.embed_documents(texts), dtype=np.float32)
        queries = np.asarray([model.embed_query(q) for q in questions], dtype=np.float32)
    elif hasattr(model, "encode"):
        documents = np.asarray(model.encode(texts, batch_size=batch_size, convert_to_numpy=True), dtype=np.float32)
        queries = np.asarray(model.encode(questions, batch_size=batch_size, convert_to_numpy=True), dtype=np.float32)
    else:
        raise TypeError(f"{type(model).__name__}: need embed_documents/embed_query or a SentenceTransformer")
    documents = _unit_rows(documents)
    queries = _unit_rows(queries)
    scores = queries @ documents.T
    top = min(candidates, len(chunk_ids))
    leg = {}
    for row, qid in enumerate(qids):
        best = np.argpartition(-scores[row], top - 1)[:top] if top < len(chunk_ids) else np.arange(len(chunk_ids))
        ranked = sorted(((chunk_ids[i], float(scores[row, i])) for i in best), key=lambda item: (-item[1], item[0]))
        leg[qid] = ranked
    return leg


def _unit_rows(matrix):
    import numpy as np

    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def qdrant_idf(document_frequency: int, points: int) -> float:
    """Qdrant's IDF (``Modifier.IDF``): ``ln(1 + (N - n + 0.5) / (n + 0.5))``.

    ``N`` counts the points that have the sparse vector (points with only a dense vector do not
    count), ``n`` those whose vector contains the token. Checked against Qdrant Edge's scores in
    ``tests/training/test_retrieval_eval.py``.
    """
    return math.log(1.0 + (points - document_frequency + 0.5) / (document_frequency + 0.5))


def corpus_idf(document_vectors: Sequence) -> dict[int, float]:
    """The IDF of every token of ``document_vectors`` (sparse vectors), over those documents."""
    frequency: dict[int, int] = defaultdict(int)
    for vector in document_vectors:
        for token in set(vector.indices):
            frequency[token] += 1
    points = len(document_vectors)
    return {token: qdrant_idf(n, points) for token, n in frequency.items()}


def encode_lexical_leg(tokenizer, ir: IRDataset, *, candidates: int = DEFAULT_CANDIDATES,
                       query_ids: Iterable[str] | None = None) -> dict[str, Candidates]:
    """Top ``candidates`` chunks per query by BM25, scored as Qdrant scores an IDF sparse vector.

    ``tokenizer`` is a name from ``plugins.lexical.LEXICAL_TOKENIZERS`` or a loaded encoder.
    ``score(q, d) = Σ_{t ∈ q ∩ d} idf(t)·q_t·d_t``; like the engine, a chunk that shares no token
    with the query is not a candidate.
    """
    if isinstance(tokenizer, str):
        from plugins.lexical import load_lexical

        tokenizer = load_lexical(tokenizer)
    chunk_ids = list(ir.corpus)
    qids = list(query_ids) if query_ids is not None else sorted(relevance_of(ir))
    documents = tokenizer.embed_documents([ir.corpus[cid] for cid in chunk_ids])
    idf = corpus_idf(documents)
    postings: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for position, vector in enumerate(documents):
        for token, value in zip(vector.indices, vector.values):
            postings[token].append((position, value))
    leg = {}
    for qid in qids:
        query = tokenizer.embed_query(ir.queries[qid])
        scores: dict[int, float] = defaultdict(float)
        for token, weight in zip(query.indices, query.values):
            for position, value in postings.get(token, ()):
                scores[position] += idf[token] * weight * value
        ranked = sorted(((chunk_ids[p], s) for p, s in scores.items()), key=lambda item: (-item[1], item[0]))
        leg[qid] = ranked[:candidates]
    return leg


def build_legs(ir: IRDataset, *, dense=None, lexical=None, candidates: int = DEFAULT_CANDIDATES,
               dense_label: str = "", lexical_label: str = "") -> RetrievalLegs:
    """Encode the corpus and the queries once per leg; ``dense``/``lexical`` as in the encoders above."""
    ir.validate("retrieval evaluation data set")
    relevant = relevance_of(ir)
    qids = sorted(relevant)
    legs = RetrievalLegs(relevant, candidates=candidates)
    if dense is not None:
        legs.dense = encode_dense_leg(dense, ir, candidates=candidates, query_ids=qids)
        legs.dense_label = dense_label or str(getattr(dense, "name", "") or type(dense).__name__)
    if lexical is not None:
        legs.lexical = encode_lexical_leg(lexical, ir, candidates=candidates, query_ids=qids)
        legs.lexical_label = lexical_label or (lexical if isinstance(lexical, str) else getattr(lexical, "name", ""))
    return legs


# -- metrics -------------------------------------------------------------------------------
# The project's one definition of the ranking metrics: every pipeline evaluation, the gate's per-question
# pairs, the weight fitting and the benchmarks score with these. ``training.evaluate.evaluate_models`` (bare
# models, ``docstune eval`` without --retrieval) uses sentence-transformers' InformationRetrievalEvaluator
# instead, the library's own, for its precision/recall/MAP rows; it keeps no per-question scores and cannot
# rank a fused list, hence these. test_eval_retrieval checks that the two agree on a dense ranking.
def ranking_metrics(ranked_ids: Sequence[str], relevant: Iterable[str]) -> dict[str, float]:
    """hit-rate (accuracy)@1/@3/@5/@10, MRR@10 and NDCG@10 of one ranking with binary relevance."""
    relevant = set(relevant)
    top = list(ranked_ids[:10])
    first = next((rank for rank, cid in enumerate(top, start=1) if cid in relevant), None)
    dcg = sum(1.0 / math.log2(rank + 1) for rank, cid in enumerate(top, start=1) if cid in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), 10) + 1))
    return {
        "accuracy@1": float(first is not None and first <= 1),
        "accuracy@3": float(first is not None and first <= 3),
        "accuracy@5": float(first is not None and first <= 5),
        "accuracy@10": float(first is not None),
        "mrr@10": 1.0 / first if first else 0.0,
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


def mean_metrics(per_query: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each metric's mean over the queries (all 0.0 for none)."""
    if not per_query:
        return {name: 0.0 for name in METRIC_NAMES}
    return {name: statistics.fmean(m[name] for m in per_query.values()) for name in METRIC_NAMES}


@dataclass
class PipelineResult:
    """Metrics of one fusion on a set of queries: per query, and their mean."""

    label: str
    per_query: dict[str, dict[str, float]]

    @property
    def mean(self) -> dict[str, float]:
        return mean_metrics(self.per_query)


def describe_fusion(fusion: Fusion) -> str:
    if isinstance(fusion, FusionSettings):
        return fusion.describe()  # convex names its normalisation already: hybrid:convex-minmax:0.5
    return getattr(fusion, "label", None) or getattr(fusion, "__name__", type(fusion).__name__)


def rank_query(legs: RetrievalLegs, qid: str, fusion: Fusion, k: int = 10) -> list[Fused]:
    """The fused top ``k`` of one query (each leg cut to the setting's ``candidates``)."""
    dense, lexical = legs.dense.get(qid, []), legs.lexical.get(qid, [])
    if isinstance(fusion, FusionSettings):
        return fuse(dense[:fusion.candidates], lexical[:fusion.candidates], fusion, k)
    return fusion(dense, lexical, k)


def evaluate_pipeline(legs: RetrievalLegs, fusion: Fusion, *,
                      query_ids: Iterable[str] | None = None) -> PipelineResult:
    """Metrics of ``fusion`` (settings, or an adaptive fuser) over the cached legs."""
    if isinstance(fusion, FusionSettings):
        if fusion.uses_dense and not legs.dense:
            raise ValueError(f"{describe_fusion(fusion)} needs a dense leg; build the legs with dense=...")
        if fusion.uses_lexical and not legs.lexical:
            raise ValueError(f"{describe_fusion(fusion)} needs a lexical leg; build the legs with lexical=...")
    qids = list(query_ids) if query_ids is not None else legs.query_ids
    per_query = {}
    for qid in qids:
        ranked = [item.chunk_id for item in rank_query(legs, qid, fusion, k=10)]
        per_query[qid] = ranking_metrics(ranked, legs.relevant[qid])
    return PipelineResult(describe_fusion(fusion), per_query)


# -- fitting the weight --------------------------------------------------------------------
@dataclass
class FittedWeight:
    """The grid weight with the best mean ``metric``, the fusion at it, and the whole curve."""

    fusion: Fusion
    weight: float
    metric: str
    curve: dict[float, float]

    @property
    def settings(self) -> FusionSettings:
        """The fitted settings (for a ``FusionSettings`` fusion, i.e. :func:`fit_fusion_weight`)."""
        if not isinstance(self.fusion, FusionSettings):
            raise TypeError(f"{describe_fusion(self.fusion)} is not a FusionSettings")
        return self.fusion

    @property
    def best(self) -> float:
        return self.curve[self.weight]


def fit_weight(legs: RetrievalLegs, fusion_at: Callable[[float], Fusion], *, prior: float = 0.5,
               grid: Sequence[float] = WEIGHT_GRID, metric: str = "mrr@10",
               query_ids: Iterable[str] | None = None) -> FittedWeight:
    """The weight of ``grid`` whose fusion ``fusion_at(weight)`` has the best mean ``metric``.

    Ties (and near ties, 1e-9) go to the weight closest to ``prior`` — usually the default — so a
    flat curve (``rrf`` ignores the weight) or too few queries do not move it.
    """
    qids = list(query_ids) if query_ids is not None else legs.query_ids
    curve = {w: evaluate_pipeline(legs, fusion_at(w), query_ids=qids).mean[metric] for w in grid}
    top = max(curve.values())
    best = min((w for w, value in curve.items() if value >= top - 1e-9), key=lambda w: (abs(w - prior), w))
    return FittedWeight(fusion_at(best), best, metric, curve)


def fit_fusion_weight(legs: RetrievalLegs, method: str = "convex", *, normalise: str = "max",
                      prior: float = 0.5, grid: Sequence[float] = WEIGHT_GRID, rrf_k: int = 60,
                      candidates: int | None = None, metric: str = "mrr@10",
                      query_ids: Iterable[str] | None = None) -> FittedWeight:
    """The dense share of ``grid`` that maximises the mean ``metric`` of ``method`` on ``query_ids``.

    Ties go to the weight closest to ``prior`` (see :func:`fit_weight`). ``candidates`` per leg
    defaults to the service's (50); it changes the result (a chunk only one leg returned gets 0
    from the other; ``minmax`` maps the last candidate to 0).
    """
    base = FusionSettings(mode="hybrid", method=method, normalise=normalise, rrf_k=rrf_k,
                          candidates=min(candidates or DEFAULT_CANDIDATES, legs.candidates))
    return fit_weight(legs, lambda weight: replace(base, weight=weight), prior=prior, grid=grid,
                      metric=metric, query_ids=query_ids)


def split_queries(query_ids: Sequence[str], seed: int = 0, fraction: float = 0.5) -> tuple[list[str], list[str]]:
    """A seeded random split of the queries: ``(fit, held_out)``."""
    shuffled = sorted(query_ids)
    random.Random(seed).shuffle(shuffled)
    cut = int(round(len(shuffled) * fraction))
    return sorted(shuffled[:cut]), sorted(shuffled[cut:])


# -- a per-query adaptive weight -----------------------------------------------------------
def peakedness(scores: Sequence[float], depth: int = DEFAULT_CANDIDATES) -> float | None:
    """How far a leg's best score stands out of its top ``depth``: ``(s1 - mean) / sd``.

    A z-score, so it does not depend on the leg's scale (cosine in [-1, 1], BM25 unbounded); a
    leg that is sure of its answer has one score far above the rest. 0 for a flat list; ``None``
    (unknown) for fewer than 2 scores.
    """
    top = list(scores[:depth])
    if len(top) < 2:
        return None
    sd = statistics.pstdev(top)
    return (top[0] - statistics.fmean(top)) / sd if sd > 0 else 0.0


@dataclass(frozen=True)
class AdaptiveFusion:
    """Convex fusion whose dense share is chosen per query from the legs' own scores (no labels).

    ``w_q = p·c_d / (p·c_d + (1 - p)·c_l)`` with ``c = peakedness(leg)**sharpness`` and the prior
    weight ``p``: the leg whose best score stands out more gets the larger share; equally peaked
    legs get ``p``. A leg that returned nothing gets no share; one with a single candidate (its
    peakedness unknown) leaves the weight at ``p``.

    Measured (MiniLM + bm25-en, 50 candidates): on the queries where one leg ranks the relevant
    chunk higher than the other, the difference of the legs' peakedness picks the better leg with
    AUC 0.77 (Lyft 10-K) / 0.60 (Debian FAQ) over the whole candidate list (``depth`` 50), 0.66 /
    0.58 over the top 10; ``minmax`` beat ``max`` on both sets. As a fusion it is on a par with the
    best fixed weight (``bench/retrieval_table.py``), not clearly better.

    Example::

        fusion = AdaptiveFusion(prior=0.5)
        fusion([("a", 0.8), ("b", 0.5), ("c", 0.49)], [("c", 9.0), ("b", 2.0)], k=2)
        evaluate_pipeline(legs, fusion).mean["mrr@10"]
    """

    prior: float = 0.5
    normalise: str = "minmax"
    depth: int = DEFAULT_CANDIDATES
    sharpness: float = 1.0
    candidates: int = DEFAULT_CANDIDATES

    @property
    def label(self) -> str:
        return (f"adaptive:{self.normalise}:prior {self.prior:g}"
                + (f":sharpness {self.sharpness:g}" if self.sharpness != 1 else ""))

    def weight_for(self, dense: Candidates, lexical: Candidates) -> float:
        if not lexical:
            return 1.0
        if not dense:
            return 0.0
        p_dense = peakedness([s for _, s in dense], self.depth)
        p_lexical = peakedness([s for _, s in lexical], self.depth)
        if p_dense is None or p_lexical is None:
            return self.prior
        c_dense, c_lexical = max(p_dense, 0.0) ** self.sharpness, max(p_lexical, 0.0) ** self.sharpness
        numerator = self.prior * c_dense
        denominator = numerator + (1 - self.prior) * c_lexical
        return numerator / denominator if denominator > 0 else self.prior

    def __call__(self, dense: Candidates, lexical: Candidates, k: int) -> list[Fused]:
        dense, lexical = dense[:self.candidates], lexical[:self.candidates]
        settings = FusionSettings(mode="hybrid", method="convex", normalise=self.normalise,
                                  weight=min(1.0, max(0.0, self.weight_for(dense, lexical))),
                                  candidates=self.candidates)
        return fuse(dense, lexical, settings, k)
