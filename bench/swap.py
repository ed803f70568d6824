"""Re-index throughput and search latency during a model swap vs. at rest.

Builds a corpus of N short chunks (≤96 tokens) on the bundled model, measures search
latency at rest, then re-indexes into model B (the bundled model saved again with one
weight changed: another fingerprint, same cost) while a thread searches without pause,
and reports chunks/s and p50/p99 latencies.

    .venv/bin/python bench/swap.py --chunks 10000      # several minutes on a 2-core CPU
    .venv/bin/python bench/swap.py --chunks 300        # smoke run
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--searches-at-rest", type=int, default=200)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer

    from application.container import DocsTune
    from application.settings import Settings
    from plugins.sentence_transformers_backend import bundled_model_path

    root = Path(tempfile.mkdtemp(prefix="docstune-swap-bench-"))
    model_b = root / "minilm-b"
    model = SentenceTransformer(bundled_model_path(), device="cpu")
    with torch.no_grad():
        model[0].auto_model.embeddings.word_embeddings.weight[1000, 0] += 0.5
    model.save(str(model_b))
    docs = root / "docs"
    docs.mkdir()
    per_file = 50
    for f in range(0, args.chunks, per_file):
        paragraphs = [f"Record {i}: the zq{i} gadget is kept in aisle {i % 37}, shelf {i % 11}, "
                      f"checked by team {i % 5} every {i % 7 + 1} days." for i in range(f, min(f + per_file, args.chunks))]
        (docs / f"part{f:06d}.md").write_text("\n\n".join(paragraphs), encoding="utf-8")

    services = DocsTune(Settings(DATA_DIR=root / "data", CHUNK_TOKENS=48, CHUNK_OVERLAP_TOKENS=0,
                                 JOBS_WORKER="off", INGEST_BATCH_SIZE=64))
    t0 = time.perf_counter()
    services.documents.ingest_paths([docs])
    chunks = services.documents.chunk_count()
    ingest_s = time.perf_counter() - t0
    questions = [f"Where is the zq{i} gadget kept?" for i in range(0, args.chunks, max(1, args.chunks // 97))]

    at_rest = []
    for i in range(args.searches_at_rest):
        start = time.perf_counter()
        services.serving.search(questions[i % len(questions)], k=4)
        at_rest.append(time.perf_counter() - start)

    during, stop, mixed = [], threading.Event(), []

    def search_loop():
        i = 0
        while not stop.is_set():
            start = time.perf_counter()
            services.serving.search(questions[i % len(questions)], k=4)
            during.append(time.perf_counter() - start)
            i += 1

    searcher = threading.Thread(target=search_loop)
    searcher.start()
    t0 = time.perf_counter()
    collection = services.serving.reindex(model_name=str(model_b))
    reindex_s = time.perf_counter() - t0
    stop.set()
    searcher.join()
    report = {
        "chunks": chunks,
        "ingest_seconds": round(ingest_s, 1),
        "reindex_seconds": round(reindex_s, 1),
        "reindex_chunks_per_second": round(chunks / reindex_s, 1),
        "search_at_rest_ms": {"p50": round(percentile(at_rest, 0.5), 1), "p99": round(percentile(at_rest, 0.99), 1),
                              "n": len(at_rest)},
        "search_during_swap_ms": {"p50": round(percentile(during, 0.5), 1), "p99": round(percentile(during, 0.99), 1),
                                  "n": len(during)},
        "serving_after": collection,
        "points_after": services.vector_store.count(collection),
    }
    services.close()
    print(json.dumps(report, indent=2))
    assert report["points_after"] == chunks and statistics.mean(during) > 0


if __name__ == "__main__":
    main()
