"""A fusion weight before any rating exists: fitted on pseudo-queries the corpus makes of itself.

Inverse cloze (``training.synthetic.InverseClozeGenerator``, one query per chunk, the sentence always
taken out): a sentence of a chunk is the query, and that chunk *without the sentence* is relevant to it,
among all the other chunks as they are — and so are the chunks next to it in its document
(``neighbours``, ``NEIGHBOUR_REACH`` positions either side), the rest of the passage the sentence came
from. The convex weight fitted on them (``fit_fusion_weight``) is the fusion weight before any rating.

Why the neighbours: through the product's own chunking (chunks of at most 254 tokens) the chunk alone
was a needle — on Lyft both legs found it for under a quarter of the queries and the fitted weight
swung with the sentences drawn (0.55 / 0.65 / 0.9 over three seeds, the last 0.072 below lexical alone).
With its neighbours relevant the fit held at 0.4 over the three seeds (0.5 through the service's own
chunk ids: the same MRR@10 on the real questions), and on all four dev sets it
stayed above the better single leg (``bench/label_free_fusion.py --product-chunking``;
docs/retrieval.md, "A default before any rating"). A document of one chunk has no neighbours, so on
FAQ-like corpora the rule is the plain inverse cloze. The service serves it until a weight fitted on
ratings exists.

Example::

    from plugins.lexical import load_lexical

    neighbours = neighbours_by_position(rows)  # rows: (chunk_id, document_id, position)
    record = fit_label_free_weight(chunks, dense_model, load_lexical("bm25-en"), base=FusionSettings(),
                                   neighbours=neighbours)
    record["weight"], record["origin"]  # 0.5, "label-free: 1036 corpus pseudo-queries"
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable, Iterable

from training.fusion import FusionSettings
from training.records import IRDataset, TrainingDataError
from training.retrieval_eval import DEFAULT_CANDIDATES, RetrievalLegs, corpus_idf, evaluate_pipeline, fit_fusion_weight

LABEL_FREE = "label-free"  # the ``kind`` of a fit record made without ratings
PSEUDO_QUERY_SEED = 42
# measured (docs/retrieval.md): fitted on all pseudo-queries (93 to 326 of them) the weight held on every
# set; fitted on 50, package_faqs fell to 0.022 below dense alone. Fewer than this: the fixed default
MIN_PSEUDO_QUERIES = 100
# chunks either side in the same document that a pseudo-query counts relevant besides its own (measured:
# docs/retrieval.md; 0 is the plain inverse cloze, which the product's chunking made unstable on Lyft)
NEIGHBOUR_REACH = 1


def neighbours_by_position(rows: Iterable[tuple[str, str, int]], reach: int = NEIGHBOUR_REACH) -> dict[str, list[str]]:
    """``{chunk_id: [the chunks of its document within reach positions, nearest first]}`` from
    ``(chunk_id, document_id, position)`` rows (a chunk with none is left out)."""
    at = {(document, position): cid for cid, document, position in rows}
    out = {}
    for (document, position), cid in at.items():
        near = [at[(document, position + step)] for distance in range(1, reach + 1) for step in (-distance, distance)
                if (document, position + step) in at]
        if near:
            out[cid] = near
    return out


@dataclass(frozen=True)
class PseudoQueries:
    """One inverse-cloze query per chunk (chunks with no sentence to take out have none).

    ``ir``: the queries, the corpus (every chunk as it is) and each query's relevant chunks (its own
    first, then its neighbours in the corpus);
    ``contexts``: per query, its chunk without the query's sentence — what that chunk is when *this*
    query ranks it (with the sentence left in, the lexical leg would find it word for word). No single
    corpus holds that for every query at once, hence ``pseudo_query_legs`` rather than ``build_legs``.
    """

    ir: IRDataset
    contexts: dict[str, str]

    @property
    def questions(self) -> int:
        return len(self.ir.queries)


def pseudo_query_ir(chunks: dict[str, str], seed: int = PSEUDO_QUERY_SEED, *,
                    max_questions: int | None = None,
                    neighbours: dict[str, list[str]] | None = None) -> PseudoQueries:
    """The pseudo-queries of ``chunks`` (``{chunk_id: text}``, in the order given).

    ``neighbours`` (``neighbours_by_position``): the chunks next to each one in its document, relevant
    to its query too. Above ``max_questions`` chunks, a seeded random sample of that many chunks is the
    source of the queries, and the corpus is the sample and its neighbours (the cost stays bounded).
    """
    from training.synthetic import InverseClozeGenerator

    neighbours = neighbours or {}
    sources = list(chunks)
    if max_questions is not None and len(sources) > max_questions:
        chosen = set(random.Random(seed).sample(sorted(sources), max_questions))
        sources = [cid for cid in sources if cid in chosen]
    kept = set(sources).union(*(neighbours.get(cid, ()) for cid in sources))
    corpus = {cid: text for cid, text in chunks.items() if cid in kept}
    generator = InverseClozeGenerator(questions_per_chunk=1, seed=seed, remove_probability=1.0)
    pseudo = [q for cid in sources for q in generator.questions_for(cid, corpus[cid])]
    queries, relevant, contexts = {}, {}, {}
    for n, query in enumerate(pseudo):
        qid = f"ict{n:05d}"
        near = [cid for cid in neighbours.get(query.chunk_id, ()) if cid in corpus]
        queries[qid], relevant[qid], contexts[qid] = query.question, [query.chunk_id, *near], query.context
    return PseudoQueries(IRDataset(queries, corpus, relevant), contexts)


def pseudo_query_legs(pseudo: PseudoQueries, dense, lexical, candidates: int = DEFAULT_CANDIDATES, *,
                      progress: Callable[[str], None] | None = None) -> RetrievalLegs:
    """Both legs of every pseudo-query over the corpus, its own chunk (its first relevant one) scored
    without its sentence, its neighbours as they are.

    ``dense``: an embedding backend (``embed_documents``, ``embed_query``); ``lexical``: a sparse
    encoder (``plugins.lexical``), scored as Qdrant scores an IDF sparse vector over the corpus
    (``training.retrieval_eval.corpus_idf``).
    """
    import numpy as np

    ir, say = pseudo.ir, progress or (lambda message: None)
    chunk_ids = list(ir.corpus)
    qids = list(ir.queries)
    position = {cid: i for i, cid in enumerate(chunk_ids)}
    own = [position[ir.relevant_docs[qid][0]] for qid in qids]

    def unit(rows):
        rows = np.asarray(rows, dtype=np.float32)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    say(f"encoding {len(chunk_ids)} chunks")
    documents = unit(dense.embed_documents([ir.corpus[cid] for cid in chunk_ids]))
    say(f"encoding {len(qids)} chunks without their pseudo-query's sentence")
    contexts = unit(dense.embed_documents([pseudo.contexts[qid] for qid in qids]))
    say(f"encoding {len(qids)} pseudo-queries")
    queries = unit([dense.embed_query(ir.queries[qid]) for qid in qids])
    dense_scores = queries @ documents.T
    dense_scores[np.arange(len(qids)), own] = (queries * contexts).sum(axis=1)

    say("scoring the lexical leg")
    doc_vectors = lexical.embed_documents([ir.corpus[cid] for cid in chunk_ids])
    idf = corpus_idf(doc_vectors)
    postings = defaultdict(list)
    for i, vector in enumerate(doc_vectors):
        for token, value in zip(vector.indices, vector.values):
            postings[token].append((i, value))
    legs = RetrievalLegs({}, candidates=candidates, dense_label=str(getattr(dense, "name", "")),
                         lexical_label=str(getattr(lexical, "name", "")))
    for n, qid in enumerate(qids):
        target = own[n]
        legs.relevant[qid] = frozenset(ir.relevant_docs[qid])
        row = dense_scores[n]
        top = np.argsort(-row, kind="stable")[:candidates]
        legs.dense[qid] = sorted(((chunk_ids[i], float(row[i])) for i in top), key=lambda x: (-x[1], x[0]))
        query = lexical.embed_query(ir.queries[qid])
        weights = dict(zip(query.indices, query.values))
        scores = defaultdict(float)
        for token, weight in weights.items():
            for i, value in postings.get(token, ()):
                if i != target:
                    scores[i] += idf[token] * weight * value
        context = lexical.embed_documents([pseudo.contexts[qid]])[0]
        own_score = sum(idf.get(t, 0.0) * weights[t] * v for t, v in zip(context.indices, context.values)
                        if t in weights)
        if own_score > 0:  # like the engine: a chunk that shares no token with the query is no candidate
            scores[target] = own_score
        ranked = sorted(((chunk_ids[i], s) for i, s in scores.items()), key=lambda x: (-x[1], x[0]))
        legs.lexical[qid] = ranked[:candidates]
    return legs


def is_label_free(record: dict | None) -> bool:
    """Whether a fit record (a collection's ``fusion``) was fitted without ratings."""
    return bool(record) and record.get("kind") == LABEL_FREE


def fit_label_free_weight(chunks: dict[str, str], dense, lexical, *, base: FusionSettings | None = None,
                          neighbours: dict[str, list[str]] | None = None,
                          max_questions: int | None = None, seed: int = PSEUDO_QUERY_SEED,
                          min_questions: int = MIN_PSEUDO_QUERIES,
                          progress: Callable[[str], None] | None = None) -> dict:
    """The fusion weight fitted on ``chunks``' own pseudo-queries, as the fit record a collection stores
    (the shape of ``training.tuning.TunedFusion.record``, ``kind: "label-free"``, ``chunks``: the corpus
    size it was fitted for). ``base``: the configured settings (method, normalisation, candidates; its
    weight is the prior ties go to); ``neighbours``: see ``pseudo_query_ir``. Raises
    ``TrainingDataError`` below ``min_questions`` pseudo-queries.
    """
    from training.tuning import check_tunable

    base = base or FusionSettings()
    check_tunable(base)
    pseudo = pseudo_query_ir(chunks, seed, max_questions=max_questions, neighbours=neighbours)
    if pseudo.questions < min_questions:
        raise TrainingDataError(f"{pseudo.questions} pseudo-queries from {len(chunks)} chunks; at least "
                                f"{min_questions} are needed (a weight fitted on fewer can fall below a single leg)")
    legs = pseudo_query_legs(pseudo, dense, lexical, base.candidates, progress=progress)
    fitted = fit_fusion_weight(legs, base.method, normalise=base.normalise, prior=base.weight,
                               rrf_k=base.rrf_k, candidates=base.candidates)
    metric = fitted.metric

    def score(settings: FusionSettings) -> float:
        return round(evaluate_pipeline(legs, settings).mean[metric], 6)

    return {
        "weight": fitted.weight, "method": base.method, "normalise": base.normalise, "mode": base.mode,
        "kind": LABEL_FREE, "origin": f"{LABEL_FREE}: {pseudo.questions} corpus pseudo-queries",
        "questions": pseudo.questions, "chunks": len(chunks), "metric": metric,
        # pseudo-queries whose relevant chunks include neighbours (0: the plain inverse cloze)
        "with_neighbours": sum(len(v) > 1 for v in pseudo.ir.relevant_docs.values()),
        "baseline_weight": base.weight,
        # the metric on the pseudo-queries: at the fitted weight, at the prior, and of each leg alone
        "on_pseudo_queries": {"fitted": score(replace(base, weight=fitted.weight)), "prior": score(base),
                              "dense": score(replace(base, mode="dense")),
                              "lexical": score(replace(base, mode="lexical"))},
        "curve": {f"{w:g}": round(v, 6) for w, v in fitted.curve.items()},
        "fitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
