"""Benchmark: ingest a few MB of real text, then time searches over >= 10k chunks.

Text: the chunks of Lyft's 10-K (../shared/data/lyft_10k_ir.json) plus the
documentation files (.md/.rst/.txt) that ship inside the installed packages,
copied into a temp folder. Reports embedding throughput (chunks/s), search
latency p50/p95/p99 with the bundled model, and peak memory.

    .venv/bin/python bench/ingest_and_search.py [--chunk-tokens 96] [--min-chunks 10000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def gather_text(target: Path, lyft: Path, max_bytes: int) -> tuple[int, list[str]]:
    written = 0
    queries: list[str] = []
    if lyft.exists():
        data = json.loads(lyft.read_text())
        queries = list(data["queries"].values())
        for cid, text in data["corpus"].items():
            (target / f"lyft-{cid}.txt").write_text(text)
            written += len(text.encode())
    site = Path(sys.prefix) / "lib"
    for path in sorted(site.rglob("*")):
        if written >= max_bytes:
            break
        if path.suffix.lower() in (".md", ".rst", ".txt") and path.is_file() and path.stat().st_size > 200:
            try:
                text = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            name = "-".join(path.relative_to(site).parts[-3:])
            (target / f"{len(list(target.iterdir()))}-{name}").with_suffix(".txt").write_text(text)
            written += len(text.encode())
    return written, queries


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lyft", type=Path, default=ROOT.parent / "shared" / "data" / "lyft_10k_ir.json")
    parser.add_argument("--max-mb", type=float, default=4.0, help="text to ingest")
    parser.add_argument("--chunk-tokens", type=int, default=96)
    parser.add_argument("--min-chunks", type=int, default=10000)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()

    from application.services import Services
    from application.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        size, queries = gather_text(docs, args.lyft, int(args.max_mb * 1e6))
        services = Services(Settings(DATA_DIR=Path(tmp) / "data", CHUNK_TOKENS=args.chunk_tokens))
        services.embeddings.embed_query("warm up")
        started = time.perf_counter()
        report = services.ingest_paths([docs])
        ingest_s = time.perf_counter() - started
        chunks = services.chunk_count()
        print(f"ingested {size / 1e6:.1f} MB in {len(report.added)} files: {chunks} chunks in {ingest_s:.0f} s "
              f"= {chunks / ingest_s:.1f} chunks/s (parse + chunk + embed + write), {len(report.failed)} failed")
        if chunks < args.min_chunks:
            print(f"WARNING: only {chunks} chunks (< {args.min_chunks}); raise --max-mb or lower --chunk-tokens")

        started = time.perf_counter()
        with services.db.session() as session:
            from sqlalchemy import select

            from application.db.models import Chunk

            sample = list(session.scalars(select(Chunk.text).limit(512)))
        services.embeddings.embed_documents(sample)
        embed_s = time.perf_counter() - started
        print(f"embedding alone: {len(sample) / embed_s:.1f} chunks/s (512 chunks of <= {args.chunk_tokens} tokens)")

        random.seed(0)
        questions = queries or [s[:80] for s in sample]
        latencies = []
        for _ in range(args.searches):
            question = random.choice(questions)
            t0 = time.perf_counter()
            services.search(question, k=5)
            latencies.append((time.perf_counter() - t0) * 1000)
        print(f"search over {chunks} chunks, k=5, {args.searches} queries: p50 {percentile(latencies, 50):.1f} ms, "
              f"p95 {percentile(latencies, 95):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
              f"mean {statistics.mean(latencies):.1f} ms")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.0f} MB")
        services.close()


if __name__ == "__main__":
    main()
