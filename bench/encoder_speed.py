"""Benchmark: encode speed of the embedding backends (EMBEDDINGS_BACKEND torch, onnx, onnx-int8) on the CPU.

Two numbers per backend, as the service encodes: questions one at a time (``embed_query``, no cache, no
batcher: questions/s, and the median milliseconds of one) and a corpus in batches (``embed_documents``,
EMBEDDINGS_BATCH_SIZE: chunks/s); plus how close its vectors are to torch's (cosine over the corpus).
Each timing is the best of ``--repeats`` runs, so a machine shared with other work disturbs it less.

    .venv/bin/python bench/encoder_speed.py ../shared/data/lyft_10k_ir.json --questions 200
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.retrieval_table import BUNDLED, onnx_cache_dir  # noqa: E402
from plugins.onnx_runtime import BACKENDS  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def time_questions(model, questions: list[str]) -> tuple[float, float]:
    """(questions per second, median ms of one) encoding each question alone."""
    each = []
    for question in questions:
        started = time.perf_counter()
        model.embed_query(question)
        each.append(time.perf_counter() - started)
    return len(questions) / sum(each), 1000 * statistics.median(each)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, help="IR JSON: {queries, corpus, relevant_docs}")
    parser.add_argument("--model", default=BUNDLED, help="a sentence-transformers folder (default: the bundled model)")
    parser.add_argument("--backend", action="append", choices=list(BACKENDS), help="default: all")
    parser.add_argument("--questions", type=int, default=200, help="questions timed one at a time")
    parser.add_argument("--chunks", type=int, default=0, help="chunks encoded in batches; 0: the whole corpus")
    parser.add_argument("--batch-size", type=int, default=32, help="EMBEDDINGS_BATCH_SIZE")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads of torch and ONNX Runtime; 0: torch's")
    args = parser.parse_args()

    import numpy as np
    import sentence_transformers  # noqa: F401  (its ~7 s import is not the first backend's load time)
    import torch

    from plugins import load_embeddings

    if args.threads:
        torch.set_num_threads(args.threads)

    ir = load_ir_json(args.ir_json)
    questions = [ir.queries[qid] for qid in sorted(ir.queries)][: args.questions]
    chunks = list(ir.corpus.values())
    chunks = chunks[: args.chunks] if args.chunks else chunks
    rows, reference = [], None
    for backend in args.backend or list(BACKENDS):
        options = {"batch_size": args.batch_size, "query_batch_max": 1, "query_cache_size": 0, "backend": backend}
        if backend != "torch":
            options["onnx_cache_dir"] = onnx_cache_dir()
        started = time.perf_counter()
        model = load_embeddings(args.model, **options)
        model.embed_query("warm up")
        load_s = time.perf_counter() - started
        log(f"{backend}: loaded in {load_s:.1f} s; timing {len(questions)} questions, {len(chunks)} chunks…")
        model.embed_documents(chunks[: args.batch_size])  # warm up the batch shapes
        best_q = max((time_questions(model, questions) for _ in range(args.repeats)), key=lambda r: r[0])
        batch_s = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            vectors = np.asarray(model.embed_documents(chunks))
            batch_s.append(time.perf_counter() - started)
        if reference is None and backend == "torch":
            reference = vectors
        cosine = "" if reference is None else f"{(reference * vectors).sum(axis=1).mean():.4f} / " \
                                              f"{(reference * vectors).sum(axis=1).min():.4f}"
        rows.append(f"| {backend} | {best_q[0]:.1f} | {best_q[1]:.1f} | {len(chunks) / min(batch_s):.1f} | "
                    f"{cosine} | {load_s:.1f} |")
    print(f"## Encode speed: `{args.model}` on `{args.ir_json.name}`, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs, best of {args.repeats}")
    print()
    print("| backend | questions/s (one at a time) | median ms / question | chunks/s (batches of "
          f"{args.batch_size}) | cosine to torch, mean / min | load s |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
