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
from training.retrieval_eval import corpus_idf  # noqa: E402
from training.split import split_ir_by_chunk  # noqa: E402

LEVERS = ("fusion", "aggregate", "adapter", "termweights", "finetune")
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
        self.D = self._unit(np.asarray(self.embeddings.embed_documents([self.corpus[c] for c in self.cids])))
        self.Q = self._unit(np.asarray(self.embeddings.embed_documents([self.ir.queries[q] for q in self.qids])))
        self.doc_vectors = self.lexer.embed_documents([self.corpus[c] for c in self.cids])
        self.idf = corpus_idf(self.doc_vectors)
        self.postings = defaultdict(list)
        for position, vector in enumerate(self.doc_vectors):
            for token, value in zip(vector.indices, vector.values):
                self.postings[token].append((position, value))
        self.lexical = self.lexical_leg()
        self.dense = self.dense_leg(self.Q, self.D)

    @staticmethod
    def _unit(matrix):
        matrix = np.asarray(matrix, dtype=np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def dense_leg(self, Q, D):
        scores = self._unit(Q) @ self._unit(D).T
        leg = {}
        for row, qid in enumerate(self.qids):
            top = np.argpartition(-scores[row], CANDIDATES)[:CANDIDATES]
            leg[qid] = sorted(((self.cids[j], float(scores[row, j])) for j in top), key=lambda t: -t[1])
        return leg

    def lexical_leg(self, token_weights: dict | None = None):
        leg = {}
        for qid in self.qids:
            query = self.lexer.embed_query(self.ir.queries[qid])
            scores = defaultdict(float)
            for token, weight in zip(query.indices, query.values):
                factor = token_weights.get(token, 1.0) if token_weights else 1.0
                for position, value in self.postings.get(token, ()):
                    scores[position] += self.idf[token] * weight * value * factor
            leg[qid] = sorted(((self.cids[p], s) for p, s in scores.items()), key=lambda t: -t[1])[:CANDIDATES]
        return leg

    def ranker(self, settings: FusionSettings, dense=None, lexical=None, depth: int = 20):
        dense, lexical = dense or self.dense, lexical or self.lexical
        return lambda q: [f.chunk_id for f in fuse(dense[q], lexical[q], settings, depth)]

    def file_mrr(self, ranker, questions) -> float:
        values = []
        for q in questions:
            files = list(dict.fromkeys(self.file_of[c] for c in ranker(q)))[:10]
            values.append(next((1.0 / r for r, f in enumerate(files, 1) if f in self.rel[q]), 0.0))
        return float(np.mean(values))

    def shown_positives(self):
        """(question, chunk) for every shown chunk of a relevant file: what B's users mark relevant."""
        shown = self.ranker(FusionSettings(), depth=SHOWN)
        return [(q, c) for q in self.B for c in shown(q) if self.file_of[c] in self.rel[q]]


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
    index = {c: i for i, c in enumerate(view.cids)}
    qindex = {q: i for i, q in enumerate(view.qids)}
    pairs = view.shown_positives()
    Q, D = torch.tensor(view.Q), torch.tensor(view.D)
    qi = torch.tensor([qindex[q] for q, _ in pairs])
    ci = torch.tensor([index[c] for _, c in pairs])
    rows = {}
    for lam in (1e-1, 1e-2, 1e-3):
        W = torch.nn.Parameter(torch.eye(Q.shape[1]))
        optimiser = torch.optim.Adam([W], lr=1e-3)
        for _ in range(200):
            queries = Q[qi] @ W
            logits = (queries / queries.norm(dim=1, keepdim=True)) @ D.T / 0.05
            loss = torch.nn.functional.cross_entropy(logits, ci) + lam * ((W - torch.eye(Q.shape[1])) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        dense = view.dense_leg((Q @ W).detach().numpy(), view.D)
        rows[f"lambda={lam:g}"] = lever_fusion(view, dense=dense)["convex-minmax"]
    return rows


def lever_termweights(view):
    tokens_of = {c: set(view.doc_vectors[i].indices) for i, c in enumerate(view.cids)}
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
        rows[f"alpha={alpha}"] = lever_fusion(view, lexical=view.lexical_leg(weights))["convex-minmax"]
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
        D = model.encode([view.corpus[c] for c in view.cids], batch_size=32, normalize_embeddings=True)
        Q = model.encode([view.ir.queries[q] for q in view.qids], batch_size=32, normalize_embeddings=True)
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
    dense = view.dense_leg(Q, D)
    return {"pairs": len(positives), "train_seconds": round(seconds),
            "dense_only_A": round(view.file_mrr(view.ranker(FusionSettings(mode="dense"), dense), view.A), 3),
            "fusion": lever_fusion(view, dense=dense)}


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
            if lever == "finetune":
                outcome = lever_finetune(view, args.ict_per_chunk, args.learning_rate)
            else:
                outcome = globals()[f"lever_{lever}"](view)
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
