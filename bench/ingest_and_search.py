"""Benchmark the vector store at 20k-100k chunks (``store``) and real ingestion throughput (``ingest``).

**store** (default): the embedded engine, Qdrant Edge (``EdgeVectorStore``, what
``create_vector_store`` opens when QDRANT_URL is unset), through the product's ``VectorStore``
API: create a collection (with its ``source_id`` payload index), upsert ``--sizes`` points in
batches of ``--batch`` with the product's payload (``chunk_payload``: chunk_id, source_id, title,
uri, position, page) and BM25 lexical vector, ``optimize`` (merge segments, build HNSW), then time
``--searches`` queries: dense top-``k``, dense filtered to the ``source_ids`` of one source, and
the service's hybrid legs (dense + lexical, ``FUSION_CANDIDATES`` each, one batch). Recall@k of
Edge's answer is checked against exact brute force in numpy (ties counted by score). The old
embedded engine, qdrant-client's local mode (``QdrantVectorStore.open_local_folder``), is measured
the same way for comparison at sizes up to ``--local-max`` (it is a pure-Python scan: far too slow
beyond ~20k).

The vectors are real where it matters and synthetic where it would only cost time: see
``bench/synthetic.py`` (``--seed-chunks`` real chunks of Lyft's 10-K and the packages' docs embedded
once with the bundled model and cached, the rest noisy copies of them; the queries are the data
set's real questions, embedded).

**ingest**: the old measurement: ingest ``--max-mb`` of real text through ``DocumentLibrary.ingest_paths``
(parse + chunk + embed + write to Edge), then search it with ``ServingIndex.search`` (the serving pipeline).
The anchor, in the same run: a bare ``SentenceTransformer.encode`` of every chunk the ingest stored
(``ingest_vs_plain``: ingest's rate as a share of it).

    .venv/bin/python bench/ingest_and_search.py                       # store at 20k and 100k
    .venv/bin/python bench/ingest_and_search.py --sizes 20000 --local-max 20000
    .venv/bin/python bench/ingest_and_search.py --mode ingest --max-mb 0.5
    .venv/bin/python bench/ingest_and_search.py --mode ingest --only-lyft --max-mb 10   # the 10-K files

Results: printed, and written to bench/results/store-<time>.json / ingest-<time>.json (git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from synthetic import DEFAULT_LYFT, corpus_documents  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def latency_summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50), 3), "p95_ms": round(percentile(values, 95), 3),
            "p99_ms": round(percentile(values, 99), 3), "mean_ms": round(statistics.mean(values), 3)}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": list(os.getloadavg())}


# -- store ---------------------------------------------------------------------------------------
def build_points(seed, data, lexical):
    """The product's VectorPoints for the synthetic chunks (ids, payload and lexical vectors as ingest makes them)."""
    from application.ingest.chunking import chunk_id_for
    from application.ingest.pipeline import source_id_for
    from application.vectorstore import VectorPoint

    source_ids = [source_id_for(uri) for uri in data.source_uris]
    sparse = lexical.embed_documents(seed.texts) if lexical is not None else [None] * len(seed.texts)
    points, ids = [], []
    for i in range(len(data.seed_of)):
        s, src, pos = int(data.seed_of[i]), int(data.source_of[i]), int(data.position[i])
        chunk_id = chunk_id_for(source_ids[src], pos, seed.texts[s])
        ids.append(chunk_id)
        payload = {"chunk_id": chunk_id, "source_id": source_ids[src], "title": data.source_titles[src],
                   "uri": data.source_uris[src], "position": pos, "page": seed.pages[s]}
        points.append(VectorPoint(chunk_id, data.vectors[i].tolist(), payload, sparse[s]))
    return points, ids, source_ids


def exact_top(data_vectors, query, k, mask_index=None):
    """Exact top-k scores (cosine = dot on unit vectors), optionally over a subset of rows."""
    import numpy as np

    rows = data_vectors if mask_index is None else data_vectors[mask_index]
    scores = rows @ query
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    order = top[np.argsort(-scores[top])]
    index = order if mask_index is None else mask_index[order]
    return index, scores[order]


def recall_at(found_ids, exact_scores, id_to_row, data_vectors, query, tolerance=1e-4) -> float:
    """The share of the exact top-k that the engine found; a hit whose exact score ties the k-th counts."""
    if len(exact_scores) == 0:
        return 1.0
    kth = float(exact_scores[-1])
    good = sum(1 for pid in found_ids[: len(exact_scores)]
               if float(data_vectors[id_to_row[pid]] @ query) >= kth - tolerance)
    return good / len(exact_scores)


def run_store(engine: str, folder: Path, points, ids, source_ids, seed, data, args, lexical) -> dict:
    import numpy as np

    from application.vectorstore.edge import EdgeVectorStore
    from application.vectorstore.qdrant import QdrantVectorStore

    n = len(points)
    name = "chunks__bench"
    store = EdgeVectorStore.open(folder) if engine == "edge" else QdrantVectorStore.open_local_folder(folder)
    result: dict = {"engine": engine, "points": n, "batch": args.batch}
    try:
        store.create_collection(name, seed.dimension)
        started = time.perf_counter()
        for start in range(0, n, args.batch):
            store.upsert(name, points[start:start + args.batch])
        result["upsert_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        store.optimize(name)
        result["optimize_s"] = round(time.perf_counter() - started, 2)
        if engine == "edge":
            info = store._shard(name).info()  # a benchmark may look inside: did HNSW get built?
            result["shard"] = {"segments": info.segments_count, "points": info.points_count,
                               "indexed_vectors": info.indexed_vectors_count}
        result["count"] = store.count(name)
        print(f"  {engine}: upsert {n} points in {result['upsert_s']:.2f} s (batches of {args.batch}), "
              f"optimize {result['optimize_s']:.2f} s {result.get('shard', '')}", flush=True)

        rng = random.Random(args.rng_seed)
        searches = args.searches if engine == "edge" else min(args.searches, args.local_searches)
        queries = [rng.randrange(len(seed.queries)) for _ in range(searches)]
        # a filter: the source_ids of one source (uniform over sources; their sizes are log-normal)
        filters = [rng.randrange(len(source_ids)) for _ in range(searches)]
        members = {}
        for row, src in enumerate(data.source_of):
            members.setdefault(int(src), []).append(row)
        id_to_row = {pid: row for row, pid in enumerate(ids)}
        fusion_k = args.candidates
        for q in queries[:5]:  # warm-up (first-query page faults, lazy loads)
            store.search(name, seed.query_vectors[q].tolist(), args.k)

        dense, filtered, hybrid, dense_recall, filtered_recall = [], [], [], [], []
        for q, src in zip(queries, filters):
            vector = seed.query_vectors[q]
            as_list = vector.tolist()
            t0 = time.perf_counter()
            hits = store.search(name, as_list, args.k)
            dense.append((time.perf_counter() - t0) * 1000)
            _, exact_scores = exact_top(data.vectors, vector, args.k)
            dense_recall.append(recall_at([h.id for h in hits], exact_scores, id_to_row, data.vectors, vector))

            t0 = time.perf_counter()
            hits = store.search(name, as_list, args.k, source_ids=[source_ids[src]])
            filtered.append((time.perf_counter() - t0) * 1000)
            rows = np.asarray(members[src])
            _, exact_scores = exact_top(data.vectors, vector, args.k, rows)
            wrong_source = sum(1 for h in hits if h.payload.get("source_id") != source_ids[src])
            if wrong_source:
                result.setdefault("filter_violations", 0)
                result["filter_violations"] += wrong_source
            filtered_recall.append(recall_at([h.id for h in hits], exact_scores, id_to_row, data.vectors, vector))

            if lexical is not None:
                sparse = lexical.embed_query(seed.queries[q])
                t0 = time.perf_counter()
                store.search_legs(name, as_list, sparse, fusion_k)
                hybrid.append((time.perf_counter() - t0) * 1000)
        sizes = data.source_sizes[filters]
        result.update({
            "k": args.k, "searches": searches,
            "dense": latency_summary(dense), "filtered": latency_summary(filtered),
            "filter_points": {"median": int(np.median(sizes)), "min": int(sizes.min()), "max": int(sizes.max())},
            "recall_at_k": {"dense_mean": round(float(np.mean(dense_recall)), 4),
                            "dense_min": round(float(np.min(dense_recall)), 2),
                            "filtered_mean": round(float(np.mean(filtered_recall)), 4),
                            "filtered_min": round(float(np.min(filtered_recall)), 2)},
        })
        if hybrid:
            result["hybrid_legs"] = {**latency_summary(hybrid), "candidates_per_leg": fusion_k}
        print(f"  {engine}: dense p50 {result['dense']['p50_ms']:.2f} / p95 {result['dense']['p95_ms']:.2f} / "
              f"p99 {result['dense']['p99_ms']:.2f} ms, filtered p50 {result['filtered']['p50_ms']:.2f} / "
              f"p95 {result['filtered']['p95_ms']:.2f} / p99 {result['filtered']['p99_ms']:.2f} ms "
              f"({searches} queries), recall@{args.k} dense {result['recall_at_k']['dense_mean']:.3f} "
              f"filtered {result['recall_at_k']['filtered_mean']:.3f}"
              + (f", hybrid legs p50 {result['hybrid_legs']['p50_ms']:.2f} ms" if hybrid else ""), flush=True)
    finally:
        store.close()
    return result


def main_store(args) -> dict:
    from application.container import DocsTune
    from application.settings import Settings
    from synthetic import load_seed, synthesize

    with tempfile.TemporaryDirectory() as tmp:
        services = DocsTune(Settings(DATA_DIR=Path(tmp) / "data"))  # only for the bundled model
        embeddings = services.models.configured()
        seed = load_seed(embeddings, args.chunk_tokens, args.seed_chunks, args.lyft)
        lexical = services.models.lexical() if not args.no_lexical else None
        services.close()
    report = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": "store",
              "model": seed.model, "fingerprint": seed.fingerprint, "dimension": seed.dimension,
              "seed_chunks": len(seed.texts), "seed_documents": len(seed.doc_titles), "queries": len(seed.queries),
              "lexical": lexical.version if lexical is not None else None, "machine_before": machine(), "runs": []}
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="docstune-store-bench-"))
    try:
        for n in args.sizes:
            data = synthesize(seed, n, sources=args.sources_per_20k * n // 20000 if args.scale_sources
                              else args.sources, noise=args.noise, rng_seed=args.rng_seed)
            points, ids, source_ids = build_points(seed, data, lexical)
            real = min(n, len(seed.texts))
            print(f"{n} points ({real} real, {n - real} noisy copies at mean cosine "
                  f"{data.cosine_to_seed:.3f} to their original), {len(source_ids)} sources "
                  f"(median {int(sorted(data.source_sizes)[len(source_ids) // 2])} chunks), load {os.getloadavg()[0]:.2f}",
                  flush=True)
            engines = ["edge"] + (["local"] if n <= args.local_max else [])
            for engine in engines:
                folder = work / f"{engine}-{n}"
                shutil.rmtree(folder, ignore_errors=True)
                row = run_store(engine, folder, points, ids, source_ids, seed, data, args, lexical)
                row.update({"sources": len(source_ids), "noise": args.noise,
                            "cosine_to_seed": round(data.cosine_to_seed, 4), "load_average_after": list(os.getloadavg())})
                report["runs"].append(row)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["machine_after"] = machine()
    print_table(report)
    return report


def print_table(report: dict) -> None:
    print(f"\n| points | engine | upsert s | optimize s | dense p50/p95/p99 ms | filtered p50/p95/p99 ms "
          f"| filter pts (median) | recall@k dense / filtered | hybrid legs p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in report["runs"]:
        d, f = r["dense"], r["filtered"]
        hybrid = r.get("hybrid_legs", {}).get("p50_ms")
        print(f"| {r['points']} | {r['engine']} | {r['upsert_s']:.2f} | {r['optimize_s']:.2f} "
              f"| {d['p50_ms']:.2f} / {d['p95_ms']:.2f} / {d['p99_ms']:.2f} "
              f"| {f['p50_ms']:.2f} / {f['p95_ms']:.2f} / {f['p99_ms']:.2f} | {r['filter_points']['median']} "
              f"| {r['recall_at_k']['dense_mean']:.3f} / {r['recall_at_k']['filtered_mean']:.3f} "
              f"| {hybrid if hybrid is not None else '-'} |")


# -- ingest (real embeddings, smaller) -----------------------------------------------------------
def gather_text(target: Path, lyft: Path, max_bytes: int, only_lyft: bool = False) -> int:
    written = 0
    for name, text in corpus_documents(lyft):
        if written >= max_bytes or (only_lyft and not name.startswith("lyft-")):
            break
        (target / name).write_text(text, encoding="utf-8")
        written += len(text.encode())
    return written


def plain_encode(services) -> dict:
    """The anchor: a bare ``SentenceTransformer`` (the bundled model, its defaults: batch 32, the model's
    own maximum length) encodes every chunk the ingest stored, in one call, in this process."""
    from sentence_transformers import SentenceTransformer
    from sqlalchemy import select

    from application.db.models import Chunk
    from plugins.sentence_transformers_backend import bundled_model_path

    with services.db.session() as session:
        texts = list(session.scalars(select(Chunk.text).order_by(Chunk.id)))
    model = SentenceTransformer(bundled_model_path(), device="cpu")
    model.encode(["warm up"])
    started = time.perf_counter()
    model.encode(texts, batch_size=32)
    return {"chunks": len(texts), "seconds": round(time.perf_counter() - started, 2), "batch_size": 32,
            "max_seq_length": model.max_seq_length}


def main_ingest(args) -> dict:
    from sqlalchemy import select

    from application.db.models import Chunk
    from application.container import DocsTune
    from application.settings import Settings
    from synthetic import questions_from

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        size = gather_text(docs, args.lyft, int(args.max_mb * 1e6), args.only_lyft)
        services = DocsTune(Settings(DATA_DIR=Path(tmp) / "data", CHUNK_TOKENS=args.chunk_tokens))
        services.models.configured().embed_query("warm up")
        started = time.perf_counter()
        report = services.documents.ingest_paths([docs])
        ingest_s = time.perf_counter() - started
        chunks = services.documents.chunk_count()
        print(f"ingested {size / 1e6:.2f} MB in {len(report.added)} files: {chunks} chunks in {ingest_s:.1f} s "
              f"= {chunks / ingest_s:.1f} chunks/s (parse + chunk + embed + write to Qdrant Edge), "
              f"{len(report.failed)} failed")
        started = time.perf_counter()
        with services.db.session() as session:
            sample = list(session.scalars(select(Chunk.text).limit(512)))
        services.models.configured().embed_documents(sample)
        embed_s = time.perf_counter() - started
        print(f"embedding alone: {len(sample) / embed_s:.1f} chunks/s ({len(sample)} chunks of <= "
              f"{args.chunk_tokens} tokens)")
        plain = plain_encode(services)
        print(f"plain SentenceTransformer.encode of the same {plain['chunks']} chunks: {plain['seconds']:.1f} s = "
              f"{plain['chunks'] / plain['seconds']:.1f} chunks/s; ingest runs at "
              f"{plain['seconds'] / ingest_s:.2f}x that rate (issue 28: >= 0.9x)")
        random.seed(args.rng_seed)
        questions = questions_from(args.lyft)
        latencies = []
        for _ in range(args.searches):
            question = random.choice(questions)
            t0 = time.perf_counter()
            services.serving.search(question, k=args.k)
            latencies.append((time.perf_counter() - t0) * 1000)
        summary = latency_summary(latencies)
        print(f"ServingIndex.search over {chunks} chunks (embed the question + {services.settings.retrieval_mode} "
              f"retrieval + SQL), k={args.k}: p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
              f"p99 {summary['p99_ms']:.1f} ms")
        services.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MB")
    return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": "ingest", "bytes": size,
            "files": len(report.added), "failed": len(report.failed), "chunks": chunks,
            "ingest_s": round(ingest_s, 1), "chunks_per_s": round(chunks / ingest_s, 1),
            "embed_only_chunks_per_s": round(len(sample) / embed_s, 1), "search": summary,
            "plain_encode": plain, "ingest_vs_plain": round(plain["seconds"] / ingest_s, 3),
            "peak_rss_mb": round(peak), "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("store", "ingest"), default="store")
    parser.add_argument("--lyft", type=Path, default=DEFAULT_LYFT)
    parser.add_argument("--chunk-tokens", type=int, default=96)
    parser.add_argument("--k", type=int, default=10, help="results per search (recall@k is measured at this k)")
    parser.add_argument("--searches", type=int, default=500, help="queries per measurement")
    parser.add_argument("--rng-seed", type=int, default=0)
    store = parser.add_argument_group("store")
    store.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000], help="points in the collection")
    store.add_argument("--seed-chunks", type=int, default=6000, help="real chunks embedded (once, cached)")
    store.add_argument("--sources", type=int, default=300, help="documents the chunks belong to")
    store.add_argument("--scale-sources", action="store_true",
                       help="--sources-per-20k sources per 20k chunks instead of a fixed --sources")
    store.add_argument("--sources-per-20k", type=int, default=300)
    store.add_argument("--noise", type=float, default=0.025, help="gaussian noise per dimension of a synthetic copy")
    store.add_argument("--batch", type=int, default=64, help="points per upsert (INGEST_BATCH_SIZE's default)")
    store.add_argument("--candidates", type=int, default=50, help="per leg of the hybrid search (FUSION_CANDIDATES)")
    store.add_argument("--no-lexical", action="store_true", help="dense vectors only (no BM25 sparse vectors)")
    store.add_argument("--local-max", type=int, default=20000, help="measure qdrant-client local mode up to this size")
    store.add_argument("--local-searches", type=int, default=100, help="queries for local mode (it is slow)")
    store.add_argument("--work-dir", type=Path, default=None, help="where the stores are written (default a temp dir)")
    ingest = parser.add_argument_group("ingest")
    ingest.add_argument("--max-mb", type=float, default=0.5, help="text to ingest for real")
    ingest.add_argument("--only-lyft", action="store_true", help="only the 10-K's files (the issue's real corpus)")
    args = parser.parse_args()

    report = main_store(args) if args.mode == "store" else main_ingest(args)
    report["command"] = " ".join(sys.argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.mode}-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
