"""Profile one kind of request in process: cProfile over ``--requests`` /api/search and /stream requests.

Builds (or reuses) the same DATA_DIR as ``bench/load.py`` (``--chunks``, synthetic corpus), makes the app
with the offline extractive answerer, warms it up, then runs each endpoint ``--requests`` times through
Flask's test client under cProfile, reading every /stream frame as a client would. Prints, per endpoint,
the cumulative time per phase (the functions named in PHASES, ms per request) and the top of the
profile; the tables in docs/performance.md come from it. ``--phases-only`` skips the profiler (its
overhead) and reports the request's own timings (``application.retrieval.timing``) instead.

    .venv/bin/python bench/profile_requests.py --chunks 1000 --requests 30
    .venv/bin/python bench/profile_requests.py --chunks 20000 --requests 30 --data-dir /tmp/data20k
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import load  # noqa: E402  (the corpus and the server's environment: one definition)

# (phase, file suffix, function name): cumulative time of that function, per request
PHASES = [
    ("request (WSGI, whole)", "werkzeug/test.py", "run_wsgi_app"),
    ("embed the question", "sentence_transformers_backend.py", "embed_query"),
    ("lexical query vector", "lexical.py", "embed_query"),
    ("vector store legs", "edge.py", "search_legs"),
    ("fuse", "training/fusion.py", "fuse"),
    ("SQL: hits' rows", "retrieval/serving.py", "hits_from_fused"),
    ("SQL: store the message", "chat/answer.py", "store_pending_message"),
    ("SQL: conversation history", "chat/answer.py", "_stored_history"),
    ("prompt render", "llm/prompt.py", "render"),
    ("extractive answer", "llm/extractive.py", "answer"),
    ("  its sentence embeddings", "sentence_transformers_backend.py", "embed_documents"),
    ("SQL: record the outcome", "chat/answer.py", "record_outcome"),
    ("SSE frames (json.dumps)", "json/__init__.py", "dumps"),
    ("hits as JSON (jsonify)", "flask/json/__init__.py", "jsonify"),
]


def phase_table(stats: pstats.Stats, requests: int) -> list[tuple[str, float, int]]:
    rows = []
    for name, suffix, function in PHASES:
        total, calls = 0.0, 0
        for (filename, _line, func), (_cc, nc, _tt, ct, _callers) in stats.stats.items():
            if func == function and filename.endswith(suffix):
                total += ct
                calls += nc
        if calls:
            rows.append((name, total * 1000 / requests, calls))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30, help="requests per endpoint")
    parser.add_argument("--data-dir", type=Path, default=None, help="default: bench/load.py's for --chunks")
    parser.add_argument("--top", type=int, default=25, help="rows of the raw profile to print")
    parser.add_argument("--phases-only", action="store_true", help="no cProfile: the request's own timings")
    args = parser.parse_args()
    # bench/load.py's corpus options, at their defaults
    corpus_args = argparse.Namespace(chunks=args.chunks, chunk_tokens=96, corpus="synthetic", seed_chunks=6000,
                                     sources=300, noise=0.025, lyft=load.ROOT.parent / "shared" / "data" / "lyft_10k_ir.json",
                                     retrieval_mode=None, threads=8, database_url=None, qdrant_url=None,
                                     qdrant_api_key=None, redis_url=None, server_env=[])
    data_dir = (args.data_dir or load.RESULTS / "load-data" / f"{args.chunks}-96-sqlite-synthetic6000").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    corpus = load.ensure_corpus(corpus_args, data_dir)
    os.environ.update(load.server_env(corpus_args, data_dir))
    os.environ["JOBS_WORKER"] = "off"

    from application.api import close_app, create_app
    from application.settings import Settings

    app = create_app(Settings())
    client = app.test_client()
    questions = load.questions_from(corpus_args.lyft)
    rng = random.Random(0)

    def search(question: str) -> None:
        response = client.post("/api/search", json={"question": question, "chunks": 4})
        assert response.status_code == 200, response.get_data(as_text=True)

    def stream(question: str) -> None:
        response = client.post("/stream", json={"question": question, "chunks": 4},
                               headers={"X-Owner-Token": "bench-profile-owner"})
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data(as_text=True)  # every frame, as a client reads them
        assert '"type": "end"' in body, body[-300:]

    print(f"corpus: {corpus['chunks']} chunks in {data_dir}; load average {os.getloadavg()[0]:.2f}", flush=True)
    try:
        for _ in range(5):  # warm-up: model, index snapshot, SQL connections
            search(rng.choice(questions))
            stream(rng.choice(questions))
        for name, run in (("/api/search", search), ("/stream", stream)):
            asked = [rng.choice(questions) for _ in range(args.requests)]
            if args.phases_only:
                from application.retrieval.timing import timed

                sums: dict[str, float] = {}
                for question in asked:
                    with timed() as timings:
                        run(question)
                    for phase, ms in timings.as_ms().items():
                        sums[phase] = sums.get(phase, 0.0) + ms
                print(f"\n{name}: {args.requests} requests, ms per request (load average {os.getloadavg()[0]:.2f})")
                for phase, total in sums.items():
                    print(f"| {phase} | {total / args.requests:.1f} |")
                continue
            # CPU time (all threads of this process, torch's included) is what a saturated server pays per
            # request, whatever else the machine runs; wall time is inflated by a busy machine
            cpu_started, started = time.process_time(), time.perf_counter()
            for question in asked:
                run(question)
            cpu = (time.process_time() - cpu_started) * 1000 / args.requests
            wall = (time.perf_counter() - started) * 1000 / args.requests
            profiler = cProfile.Profile()
            profiled = [rng.choice(questions) for _ in range(args.requests)]  # others: no cache warmed by the above
            profiler.enable()
            for question in profiled:
                run(question)
            profiler.disable()
            stats = pstats.Stats(profiler)
            print(f"\n{name}: {args.requests} requests, {cpu:.1f} ms CPU and {wall:.1f} ms wall per request "
                  f"without the profiler (load average {os.getloadavg()[0]:.2f}); phases under cProfile:")
            print("| phase | ms per request | calls |\n|---|---:|---:|")
            for phase, ms, calls in phase_table(stats, args.requests):
                print(f"| {phase} | {ms:.1f} | {calls} |")
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
    finally:
        close_app(app)


if __name__ == "__main__":
    main()
