"""Benchmark: how far each lever the feedback loop could pull moves file-level MRR@10, offline.

`bench/feedback_loop.py` measures one round through the live API; this script asks the question
behind it — *which learner can gain at all* — without a server, in minutes per lever. It
reproduces the product's view of an IR JSON set: each corpus entry is a file chunked by the
product's ``Chunker`` (txt splitter, the model's limit, 32 tokens overlap), the dense leg is the
bundled MiniLM, the lexical leg ``bm25-en`` as Qdrant scores it, 50 candidates per leg, and the
questions are split by chunk with ``split_ir_by_chunk(0.5, seed 42)`` as feedback_loop.py does:
half **B** plays the rated chat (a "shown" source is one of the top 10 fused chunks, a positive is
a shown chunk of a relevant file), half **A** is measured (file-level MRR@10, files de-duplicated
in ranking order). Every parameter is fitted on B only and reported on A.

Levers (``--levers``):

* ``fusion``: the convex weight and normalisation (and dbsf / wrrf), fitted on B;
* ``aggregate``: a file's score = its best chunk + β·(its second best | the sum of the others);
* ``adapter``: a linear query adapter (W, from the identity, L2 to it) trained on B's positives
  with a softmax over the whole corpus;
* ``termweights``: per query token, how often it occurs in B's shown relevant chunks (smoothed),
  multiplying the token's weight in the lexical query;
* ``finetune``: the dense model fine-tuned (mnrl) on B's positives plus inverse-cloze questions
  for every chunk (``training.synthetic``), then the fusion refitted. Minutes of CPU per set.

    .venv/bin/python bench/feedback_levers.py ../shared/data/lyft_10k_ir.json bench/data/debian_faq_ir.json
    .venv/bin/python bench/feedback_levers.py bench/data/debian_faq_ir.json --levers fusion,finetune
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from training.fusion import FusionSettings, fuse  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402
from training.records import IRDataset  # noqa: E402
from training.retrieval_eval import encode_dense_leg, encode_lexical_leg, ranking_metrics  # noqa: E402
from training.split import split_ir_by_chunk  # noqa: E402

CANDIDATES = 50
SHOWN = 10
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


class ProductView:
    """The product's chunks, both legs and the half split of one IR JSON set."""

    def __init__(self, path: str):
        from application.ingest.chunking import Chunker
        from application.ingest.parsers import ParsedDocument, Section
        from plugins.lexical import load_lexical
        from plugins.registry import load_embeddings

        self.embeddings = load_embeddings("all-MiniLM-L6-v2")
        self.lexer = load_lexical("bm25-en")
        self.ir = load_ir_json(path)
        chunker = Chunker(self.embeddings)
        self.corpus, self.file_of = {}, {}
        for fid, text in self.ir.corpus.items():
            for draft in chunker.split(ParsedDocument(title=fid, kind="txt", sections=[Section(text)])):
                cid = f"{fid}#{draft.position}"
                self.corpus[cid], self.file_of[cid] = draft.text, fid
        split = split_ir_by_chunk(self.ir, held_out_fraction=0.5, seed=42)
        self.A, self.B = sorted(split.held_out.queries), sorted(split.train.queries)
        self.qids = sorted(q for q in self.ir.queries if self.ir.relevant_docs.get(q))
        self.rel = {q: set(self.ir.relevant_docs[q]) for q in self.qids}
        self.cids = list(self.corpus)
        # the questions over the product's chunks (relevance stays file-level, in self.rel)
        self.chunked = IRDataset(queries=self.ir.queries, corpus=self.corpus, relevant_docs={})
        self.dense = self.dense_leg(self.embeddings)
        self.lexical = self.lexical_leg(self.lexer)

    def dense_leg(self, model):
        """Top chunks per question by cosine (``model``: an embedding backend or a SentenceTransformer)."""
        return encode_dense_leg(model, self.chunked, candidates=CANDIDATES, query_ids=self.qids)

    def lexical_leg(self, encoder):
        """Top chunks per question by BM25, as Qdrant scores it."""
        return encode_lexical_leg(encoder, self.chunked, candidates=CANDIDATES, query_ids=self.qids)

    def ranker(self, settings: FusionSettings, dense=None, lexical=None, depth: int = 20):
        dense, lexical = dense or self.dense, lexical or self.lexical
        return lambda q: [f.chunk_id for f in fuse(dense[q], lexical[q], settings, depth)]

    def file_mrr(self, ranker, questions) -> float:
        """File-level MRR@10: files in the order of their best chunk."""
        return float(np.mean([ranking_metrics(list(dict.fromkeys(self.file_of[c] for c in ranker(q))),
                                              self.rel[q])["mrr@10"] for q in questions]))

    def shown_positives(self):
        """(question, chunk) for every shown chunk of a relevant file: what B's users mark relevant."""
        shown = self.ranker(FusionSettings(), depth=SHOWN)
        return [(q, c) for q in self.B for c in shown(q) if self.file_of[c] in self.rel[q]]


class AdaptedQueries:
    """An embedding backend whose query vectors go through the adapter ``W`` (documents as they are),
    from vectors already computed (``documents``, ``queries``: text → vector)."""

    def __init__(self, documents: dict, queries: dict, W):
        self.documents, self.queries, self.W = documents, queries, W

    def embed_documents(self, texts):
        return [self.documents[t] for t in texts]

    def embed_query(self, text):
        return self.queries[text] @ self.W


class WeightedQueries:
    """A lexical encoder whose query tokens are scaled by ``weights`` (token → factor, else 1)."""

    def __init__(self, encoder, weights: dict):
        self.encoder, self.weights = encoder, weights

    def embed_documents(self, texts):
        return self.encoder.embed_documents(texts)

    def embed_query(self, text):
        from plugins.lexical import SparseVector

        query = self.encoder.embed_query(text)
        return SparseVector(query.indices, [v * self.weights.get(t, 1.0) for t, v in zip(query.indices, query.values)])


def fitted_on_b(view, make_ranker, grid):
    """The grid point best on B, and its score on A."""
    best = max(grid, key=lambda point: view.file_mrr(make_ranker(point), view.B))
    return best, view.file_mrr(make_ranker(best), view.A)


def lever_fusion(view, dense=None, lexical=None):
    rows = {}
    for method, normalise in (("convex", "minmax"), ("convex", "max"), ("dbsf", "minmax"), ("wrrf", "minmax")):
        w, a = fitted_on_b(view, lambda w: view.ranker(FusionSettings(method=method, normalise=normalise, weight=w),
                                                        dense, lexical), WEIGHTS)
        rows[f"{method}-{normalise}"] = {"weight": w, "A": round(a, 3)}
    return rows


def lever_aggregate(view):
    def ranker(point):
        mode, beta = point

        def rank(q):
            fused = fuse(view.dense[q], view.lexical[q], FusionSettings(), 60)
            by_file, best = defaultdict(list), {}
            for f in fused:
                by_file[view.file_of[f.chunk_id]].append(f.score)
                best.setdefault(view.file_of[f.chunk_id], f.chunk_id)

            def score(fid):
                xs = sorted(by_file[fid], reverse=True)
                rest = sum(xs[1:]) if mode == "sum" else (xs[1] if len(xs) > 1 else 0.0)
                return xs[0] + beta * rest
            return [best[fid] for fid in sorted(by_file, key=lambda fid: -score(fid))]
        return rank
    point, a = fitted_on_b(view, ranker, [(m, b) for m in ("second", "sum") for b in (0.0, 0.1, 0.25, 0.5, 1.0)])
    return {"fitted": list(point), "A": round(a, 3)}


def lever_adapter(view):
    import torch

    torch.manual_seed(0)
    questions = [view.ir.queries[q] for q in view.qids]
    texts = [view.corpus[c] for c in view.cids]
    D = np.asarray(view.embeddings.embed_documents(texts), dtype=np.float32)
    Q = np.asarray([view.embeddings.embed_query(q) for q in questions], dtype=np.float32)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    index = {c: i for i, c in enumerate(view.cids)}
    qindex = {q: i for i, q in enumerate(view.qids)}
    pairs = view.shown_positives()
    Qt, Dt = torch.tensor(Q), torch.tensor(D)
    qi = torch.tensor([qindex[q] for q, _ in pairs])
    ci = torch.tensor([index[c] for _, c in pairs])
    rows = {}
    for lam in (1e-1, 1e-2, 1e-3):
        W = torch.nn.Parameter(torch.eye(Qt.shape[1]))
        optimiser = torch.optim.Adam([W], lr=1e-3)
        for _ in range(200):
            queries = Qt[qi] @ W
            logits = (queries / queries.norm(dim=1, keepdim=True)) @ Dt.T / 0.05
            loss = torch.nn.functional.cross_entropy(logits, ci) + lam * ((W - torch.eye(Qt.shape[1])) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        adapted = AdaptedQueries(dict(zip(texts, D)), dict(zip(questions, Q)), W.detach().numpy())
        rows[f"lambda={lam:g}"] = lever_fusion(view, dense=view.dense_leg(adapted))["convex-minmax"]
    return rows


def lever_termweights(view):
    vectors = view.lexer.embed_documents([view.corpus[c] for c in view.cids])
    tokens_of = {c: set(vector.indices) for c, vector in zip(view.cids, vectors)}
    positives = defaultdict(set)
    for q, c in view.shown_positives():
        positives[q] |= tokens_of[c]
    rows = {}
    for alpha in (1, 3, 10):
        seen, hits = defaultdict(int), defaultdict(int)
        for q, tokens in positives.items():
            for token in set(view.lexer.embed_query(view.ir.queries[q]).indices):
                seen[token] += 1
                hits[token] += token in tokens
        prior = sum(hits.values()) / sum(seen.values())
        weights = {t: ((hits[t] + alpha * prior) / (seen[t] + alpha)) / prior for t in seen}
        rows[f"alpha={alpha}"] = lever_fusion(view, lexical=view.lexical_leg(WeightedQueries(view.lexer, weights)))[
            "convex-minmax"]
    return rows


def lever_finetune(view, questions_per_chunk: int, learning_rate: float):
    from plugins.sentence_transformers_backend import bundled_model_path
    from training.finetune import FinetuneConfig, finetune, load_model
    from training.records import TrainingSet
    from training.synthetic import generate_synthetic_queries, synthetic_training_set

    positives = [(view.ir.queries[q], view.corpus[c]) for q, c in view.shown_positives()]
    synthetic = generate_synthetic_queries(view.corpus, questions_per_chunk=questions_per_chunk, show_progress=False)
    positives += synthetic_training_set(view.corpus, synthetic).positives
    folder = Path(tempfile.mkdtemp()) / "model"
    started = time.perf_counter()
    try:
        finetune(bundled_model_path(), TrainingSet(positives=positives), folder,
                 FinetuneConfig(loss="mnrl", epochs=1, learning_rate=learning_rate, show_progress=True))
        seconds = time.perf_counter() - started
        model = load_model(folder)
        model.max_seq_length = view.embeddings.max_seq_length
        dense = view.dense_leg(model)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    return {"pairs": len(positives), "train_seconds": round(seconds),
            "dense_only_A": round(view.file_mrr(view.ranker(FusionSettings(mode="dense"), dense), view.A), 3),
            "fusion": lever_fusion(view, dense=dense)}


LEVERS = {
    "fusion": lambda view, args: lever_fusion(view),
    "aggregate": lambda view, args: lever_aggregate(view),
    "adapter": lambda view, args: lever_adapter(view),
    "termweights": lambda view, args: lever_termweights(view),
    "finetune": lambda view, args: lever_finetune(view, args.ict_per_chunk, args.learning_rate),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", help="IR JSON files")
    parser.add_argument("--levers", default=",".join(LEVERS), help=f"comma-separated, of {', '.join(LEVERS)}")
    parser.add_argument("--ict-per-chunk", type=int, default=1, help="inverse-cloze questions per chunk (finetune)")
    parser.add_argument("--learning-rate", type=float, default=2e-5, help="finetune learning rate")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the JSON results")
    args = parser.parse_args(argv)
    levers = [lever.strip() for lever in args.levers.split(",") if lever.strip()]
    unknown = sorted(set(levers) - set(LEVERS))
    if unknown:
        parser.error(f"unknown lever(s) {', '.join(unknown)}; choose from {', '.join(LEVERS)}")
    results = {}
    for path in args.datasets:
        view = ProductView(path)
        serving = view.file_mrr(view.ranker(FusionSettings()), view.A)
        result = {"chunks": len(view.cids), "A": len(view.A), "B": len(view.B), "serving_A": round(serving, 3)}
        print(f"{Path(path).name}: {len(view.cids)} chunks, A {len(view.A)} / B {len(view.B)} questions, "
              f"serving pipeline (hybrid convex-minmax 0.5) file MRR@10 on A {serving:.3f}", flush=True)
        for lever in levers:
            started = time.perf_counter()
            outcome = LEVERS[lever](view, args)
            result[lever] = outcome
            print(f"  {lever} ({time.perf_counter() - started:.0f} s): {json.dumps(outcome)}", flush=True)
        results[Path(path).name] = result
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"feedback_levers-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
