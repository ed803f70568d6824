"""Load test: concurrent clients on /api/search and /stream against a real server, for a fixed time.

Builds a DATA_DIR holding >= --chunks chunks once (reused by later runs with the same --chunks,
--chunk-tokens, --corpus and database), starts the server, drives it with --clients threads (each
its own HTTP connection and owner token) for --duration seconds after a short warm-up, and reports
requests/s, latency p50/p95/p99, errors and the server's memory (RSS and PSS summed over its
process tree, sampled from /proc). The answerer is the offline extractive one
(LLM_PROVIDER=extractive) and rate limits are off. Results go to
bench/results/load-<mode>-<time>.json (git-ignored).

The corpus (--corpus):

* ``synthetic`` (default): 20k or 100k chunks without embedding them all. ``--seed-chunks`` real
  chunks (Lyft's 10-K, ../shared/data/lyft_10k_ir.json, then the .md/.rst/.txt documentation of the
  installed packages) are parsed, chunked and embedded once with the bundled model (cached in
  bench/results/seed/); the rest are their texts again under ``--sources`` new documents, with
  noisy copies of their real vectors (bench/synthetic.py). The rows go into SQL through the
  project's models (``Source``, ``Chunk``: ids, hashes and payloads as ingest makes them), the
  vectors and BM25 lexical vectors into the Qdrant Edge collection ``chunks__<fingerprint>`` of the
  bundled model, recorded ``complete`` with its lexical version, optimised, and the alias
  ``chunks_active`` pointed at it: exactly what ``open_active_index`` serves without a re-index.
* ``real``: ingest the text for real through ``DocumentLibrary.ingest_paths`` (parse, chunk, embed,
  write): honest end to end, but embedding on a CPU makes it minutes per thousand chunks.

Questions: the data set's queries (the server embeds them: a search pays for one query embedding).
There are 658 distinct ones, so after a while the server's question cache (QUERY_CACHE_SIZE) answers
most of them: set QUERY_CACHE_SIZE=0 to measure the model, EMBED_BATCH_MAX=1 as well for the server
without its question batcher. Before the server starts, a bare SentenceTransformer encodes one
question per call for --anchor-seconds: the rate /api/search is judged against (printed, and saved
as ``anchor_plain_encode``).

    # the embedded default: `docstune serve`, one process with threads, SQLite, Qdrant Edge in process
    .venv/bin/python bench/load.py --mode embedded --chunks 20000 --clients 8 --duration 60
    # /api/search alone, one client (latency) and 8 clients (throughput)
    .venv/bin/python bench/load.py --chunks 20000 --stream-share 0 --clients 1 --duration 30
    .venv/bin/python bench/load.py --chunks 20000 --stream-share 0 --clients 8 --duration 30

    # gunicorn on PostgreSQL. The embedded Qdrant Edge folder allows one process (a folder lock), so
    # without a Qdrant server this is 1 worker x N threads; with --qdrant-url, as many workers as you like.
    .venv/bin/python bench/load.py --mode gunicorn --threads 8 --clients 8 --duration 60 \\
        --database-url postgresql+psycopg://docstune@127.0.0.1:55432/docstune_bench
    .venv/bin/python bench/load.py --mode gunicorn --workers 4 --qdrant-url http://qdrant:6333 \\
        --database-url postgresql+psycopg://docstune:secret@db/docstune

A throw-away PostgreSQL for it (Debian's postgresql package; `make system-packages` installs it).
PostgreSQL refuses to run as root: as root, keep the `runuser -u postgres --`; as a normal user,
drop it and the chown::

    PG=$(ls -d /usr/lib/postgresql/*/bin | tail -1); mkdir -p /tmp/pgbench && chown postgres /tmp/pgbench
    cd /tmp && runuser -u postgres -- $PG/initdb -D /tmp/pgbench/data -A trust -U docstune >/dev/null
    runuser -u postgres -- $PG/pg_ctl -D /tmp/pgbench/data -l /tmp/pgbench/log \\
        -o "-p 55432 -k /tmp/pgbench -c listen_addresses=127.0.0.1" start
    runuser -u postgres -- $PG/createdb -h 127.0.0.1 -p 55432 -U docstune docstune_bench
    # --database-url postgresql+psycopg://docstune@127.0.0.1:55432/docstune_bench
    # afterwards: runuser -u postgres -- $PG/pg_ctl -D /tmp/pgbench/data stop; rm -rf /tmp/pgbench

Smoke run (seconds, proves the script works; not a measurement)::

    .venv/bin/python bench/load.py --chunks 500 --duration 10 --clients 4
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ingest_and_search import percentile  # noqa: E402  (the same percentile as the other benchmark)

BYTES_PER_CHUNK = 380  # at 96 tokens with 32 overlap (measured); the first guess of how much text to gather


# -- the corpus ----------------------------------------------------------------------------------
# corpus_documents: (name, text) in a fixed order, the 10-K's chunks first, then the packages' docs
from synthetic import corpus_documents, questions_from  # noqa: E402,F401


def write_corpus(folder: Path, lyft: Path, max_bytes: int) -> int:
    """The first ``max_bytes`` of the corpus as files (same names each time: a larger run only adds files)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, text in corpus_documents(lyft):
        if written >= max_bytes:
            break
        target = folder / name
        if not target.exists():
            target.write_text(text, encoding="utf-8")
        written += len(text.encode())
    return written


def redact(url: str | None) -> str | None:
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, _, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':')[0]}:***@{host}" if ":" in credentials else url


def server_env(args, data_dir: Path) -> dict:
    env = {**os.environ, "DATA_DIR": str(data_dir), "CHUNK_TOKENS": str(args.chunk_tokens),
           "LLM_PROVIDER": "extractive", "ANTHROPIC_API_KEY": "", "RATE_LIMIT_ENABLED": "false",
           "ADMIN_TOKEN": "bench-admin-token-not-secret", "PYTHONUNBUFFERED": "1", "SERVE_THREADS": str(args.threads)}
    if args.retrieval_mode:
        env["RETRIEVAL_MODE"] = args.retrieval_mode
    for name, value in (("DATABASE_URL", args.database_url), ("QDRANT_URL", args.qdrant_url),
                        ("QDRANT_API_KEY", args.qdrant_api_key), ("REDIS_URL", args.redis_url)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    return env


def ensure_corpus(args, data_dir: Path) -> dict:
    """Ingest once into ``data_dir`` (and its database); reused when the database already holds enough chunks."""
    marker = data_dir / "bench-corpus.json"
    env = server_env(args, data_dir)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        from application.container import DocsTune
        from application.settings import Settings

        services = DocsTune(Settings())
        try:
            have = services.documents.chunk_count()  # SQL only: Qdrant is not opened for this
            if have >= args.chunks and marker.exists():
                print(f"corpus: reusing {data_dir} ({have} chunks)", flush=True)
                return {**json.loads(marker.read_text()), "chunks": have}
            if args.corpus == "synthetic":
                info = build_synthetic(args, services, data_dir)
                marker.write_text(json.dumps(info, indent=2))
                return info
            docs = data_dir.parent / (data_dir.name + "-docs")
            budget = int(args.chunks * BYTES_PER_CHUNK * 1.1)
            started = time.perf_counter()
            for attempt in range(6):
                size = write_corpus(docs, args.lyft, budget)
                print(f"corpus: ingesting {size / 1e6:.2f} MB from {docs} ...", flush=True)
                report = services.documents.ingest_paths([docs])
                chunks = services.documents.chunk_count()
                print(f"corpus: {chunks} chunks ({len(report.added)} files added, {len(report.failed)} failed)",
                      flush=True)
                if chunks >= args.chunks:
                    break
                budget = int(budget * max(1.2, 1.1 * args.chunks / max(chunks, 1)))
            else:
                raise SystemExit(f"only {chunks} chunks from all the text found; lower --chunks or --chunk-tokens")
            info = {"corpus": "real", "chunks": chunks, "bytes": size, "chunk_tokens": args.chunk_tokens,
                    "ingest_seconds": round(time.perf_counter() - started, 1),
                    "database": redact(services.settings.database_url_resolved)}
        finally:
            services.close()  # frees the Qdrant Edge folder (one process at a time) for the server
    finally:
        os.environ.clear()
        os.environ.update(saved)
    marker.write_text(json.dumps(info, indent=2))
    return info


def build_synthetic(args, services, data_dir: Path) -> dict:
    """``args.chunks`` chunks in SQL and in the serving Qdrant Edge collection, without embedding them all.

    The texts are real (the seed's chunks, again under new sources), the vectors the seed's real ones and
    noisy copies of them (bench/synthetic.py); rows, ids and payloads are made by the project's own
    models and helpers, so the server serves the result as it would a real ingest.
    """
    from sqlalchemy import func, select

    from application.db.models import Chunk, Source, VectorCollection
    from application.retrieval.index import activate, chunk_payload, ensure_collection, open_active_index
    from application.ingest.chunking import chunk_ids_for
    from application.ingest.pipeline import source_id_for
    from application.vectorstore import VectorPoint
    from synthetic import load_seed, synthesize

    db, store = services.db, services.vector_store
    with db.session() as session:
        if session.scalar(select(func.count()).select_from(Source)) or store.list_collections():
            raise SystemExit(f"{data_dir} already holds sources or collections but no finished bench corpus: "
                             f"remove it (rm -r {data_dir}) and run again")
    started = time.perf_counter()
    embeddings, lexical = services.models.configured(), services.models.lexical()
    seed = load_seed(embeddings, args.chunk_tokens, args.seed_chunks, args.lyft, log=lambda m: print(m, flush=True))
    data = synthesize(seed, args.chunks, sources=args.sources, noise=args.noise)
    seed_lexical = lexical.embed_documents(seed.texts)
    # an empty collection recorded complete, with this lexical version (what a first start makes) ...
    name = ensure_collection(db, store, embeddings, status="complete", lexical=lexical)
    by_source: dict[int, list[int]] = defaultdict(list)
    for row, src in enumerate(data.source_of):
        by_source[int(src)].append(row)
    written = 0
    pending_sql: list = []
    for src, rows in sorted(by_source.items()):
        uri = data.source_uris[src]
        source_id = source_id_for(uri)
        texts = [seed.texts[int(data.seed_of[r])] for r in rows]
        source = Source(id=source_id, uri=uri, title=data.source_titles[src], kind="txt",
                        content_hash=hashlib.sha256("\n\n".join(texts).encode()).hexdigest(),
                        size_bytes=sum(len(t.encode()) for t in texts), chunk_count=len(rows))
        chunks, points = [], []
        for r, text, chunk_id in zip(rows, texts, chunk_ids_for(source_id, texts)):
            s, position = int(data.seed_of[r]), int(data.position[r])
            chunk = Chunk(id=chunk_id, source_id=source_id, position=position,
                          text=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
                          token_count=seed.token_counts[s], page=seed.pages[s])
            chunks.append(chunk)
            points.append(VectorPoint(chunk.id, data.vectors[r].tolist(), chunk_payload(chunk, source), seed_lexical[s]))
        # ... then, as ingest does: vectors first (in INGEST_BATCH_SIZE batches), then the rows
        batch = services.settings.ingest_batch_size
        for start in range(0, len(points), batch):
            store.upsert(name, points[start:start + batch])
        pending_sql.extend([source, *chunks])
        written += len(rows)
        if len(pending_sql) >= 5000 or src == len(data.source_titles) - 1:
            with db.session() as session:
                session.add_all(pending_sql)
            pending_sql = []
            print(f"corpus: {written}/{args.chunks} synthetic chunks written", flush=True)
    if pending_sql:
        with db.session() as session:
            session.add_all(pending_sql)
    optimize_started = time.perf_counter()
    store.optimize(name)
    optimize_s = time.perf_counter() - optimize_started
    with db.session() as session:
        session.get(VectorCollection, name).chunk_count = written
    activate(db, store, name)
    # what the server will decide: this collection, this model, lexical vectors ready, nothing to re-index
    index = open_active_index(db, store, embeddings, services.models.load, lexical=lexical)
    if index.collection != name or index.pending is not None or not index.lexical_ready or index.lexical_pending:
        raise SystemExit(f"the built corpus would not serve as is: {index}")
    count = store.count(name)
    print(f"corpus: {written} chunks in {len(by_source)} sources, {count} points in {name} "
          f"(optimize {optimize_s:.1f} s), built in {time.perf_counter() - started:.0f} s", flush=True)
    return {"corpus": "synthetic", "chunks": written, "points": count, "sources": len(by_source),
            "collection": name, "seed_chunks": len(seed.texts), "seed_documents": len(seed.doc_titles),
            "noise": data.noise, "cosine_to_seed": round(data.cosine_to_seed, 4), "chunk_tokens": args.chunk_tokens,
            "lexical_version": lexical.version, "build_seconds": round(time.perf_counter() - started, 1),
            "optimize_seconds": round(optimize_s, 1), "database": redact(services.settings.database_url_resolved)}


# -- the anchor: what the model alone does -----------------------------------------------------
def plain_encode_rate(questions: list[str], seconds: float) -> dict:
    """Questions/s of a bare SentenceTransformer encoding one question per call on one thread (the bundled
    model, as the server loads it), before the server starts: what /api/search's throughput is judged against."""
    from sentence_transformers import SentenceTransformer

    from plugins.sentence_transformers_backend import bundled_model_path

    model = SentenceTransformer(bundled_model_path(), local_files_only=True)
    for question in questions[:20]:  # warm-up
        model.encode([question], normalize_embeddings=True, show_progress_bar=False)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        model.encode([questions[count % len(questions)]], normalize_embeddings=True, show_progress_bar=False)
        count += 1
    elapsed = time.perf_counter() - started
    del model
    return {"questions": count, "seconds": round(elapsed, 1), "questions_per_s": round(count / elapsed, 1)}


# -- the server --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, data_dir: Path, port: int) -> subprocess.Popen:
    env = server_env(args, data_dir)
    if args.mode == "embedded":
        command = [sys.executable, "-m", "application.cli", "serve", "--port", str(port),
                   "--threads", str(args.threads)]
    else:
        env["JOBS_WORKER"] = "off"  # web processes serve; jobs belong to `docstune worker`
        command = [sys.executable, "-m", "gunicorn", "-c", "python:application.gunicorn_conf", "application.wsgi:app",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers), "--threads", str(args.threads),
                   "--access-logfile", "/dev/null"]
    log = (RESULTS / f"load-server-{args.mode}.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process


def wait_ready(base: str, process: subprocess.Popen, timeout: float, log: Path) -> dict:
    import httpx

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}; see {log}:\n{log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{base}/ready", timeout=30)
            last = response.json()
            if response.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server was not ready in {timeout:g} s: {last}; see {log}")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def tree_memory(root: int) -> dict:
    """RSS and PSS (shared pages split between the processes that share them) of a process tree, in MB."""
    rss = pss = 0
    pids = process_tree(root)
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return {"processes": len(pids), "rss_mb": round(rss / 1024, 1), "pss_mb": round(pss / 1024, 1)}


# -- the clients -------------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.first_byte: list[float] = []
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []

    def ok(self, kind: str, seconds: float, first_byte: float | None = None) -> None:
        with self.lock:
            self.latency[kind].append(seconds * 1000)
            if first_byte is not None:
                self.first_byte.append(first_byte * 1000)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{kind}: {what[:300]}")


def one_search(client, base: str, question: str, k: int) -> None:
    response = client.post(f"{base}/api/search", json={"question": question, "chunks": k})
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
    body = response.json()
    if not isinstance(body, list) or not body:
        raise RuntimeError(f"no results: {str(body)[:200]}")


def one_stream(client, base: str, question: str, k: int) -> float:
    """Returns the time to the first answer token; the caller times the whole answer."""
    started = time.perf_counter()
    first = None
    ended = False
    with client.stream("POST", f"{base}/stream", json={"question": question, "chunks": k}) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            frame = json.loads(line[6:])
            if frame.get("type") == "answer" and first is None:
                first = time.perf_counter() - started
            elif frame.get("type") == "error":
                raise RuntimeError(f"error frame: {frame}")
            elif frame.get("type") == "end":
                ended = True
    if not ended:
        raise RuntimeError("the stream closed without an end frame")
    return first if first is not None else time.perf_counter() - started


def client_loop(index: int, args, base: str, questions: list[str], start_at: float, stop_at: float,
                recorder: Recorder) -> None:
    import httpx

    rng = random.Random(index)
    headers = {"X-Owner-Token": f"bench-load-client-{index:04d}"}
    with httpx.Client(headers=headers, timeout=args.request_timeout) as client:
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                return
            kind = "stream" if rng.random() < args.stream_share else "search"
            question = rng.choice(questions)
            began = time.perf_counter()
            try:
                if kind == "search":
                    one_search(client, base, question, args.k)
                    first = None
                else:
                    first = one_stream(client, base, question, args.k)
            except Exception as exc:  # noqa: BLE001 - every failure counts, and a few are shown
                if began >= start_at:
                    recorder.error(kind, f"{type(exc).__name__}: {exc}")
                continue
            ended = time.perf_counter()
            if began >= start_at and ended <= stop_at:  # only requests wholly inside the measured window
                recorder.ok(kind, ended - began, first)


def summarize(values: list[float], seconds: float, errors: int) -> dict:
    if not values:
        return {"requests": 0, "errors": errors, "requests_per_s": 0.0}
    return {"requests": len(values), "errors": errors, "requests_per_s": round(len(values) / seconds, 2),
            "p50_ms": round(percentile(values, 50), 1), "p95_ms": round(percentile(values, 95), 1),
            "p99_ms": round(percentile(values, 99), 1), "mean_ms": round(sum(values) / len(values), 1),
            "max_ms": round(max(values), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10000, help="at least this many chunks in the index")
    parser.add_argument("--chunk-tokens", type=int, default=96)
    parser.add_argument("--corpus", choices=("synthetic", "real"), default="synthetic",
                        help="synthetic: real seed chunks + noisy copies of their vectors; real: ingest it all")
    parser.add_argument("--seed-chunks", type=int, default=6000, help="real chunks embedded for --corpus synthetic")
    parser.add_argument("--sources", type=int, default=300, help="documents of --corpus synthetic")
    parser.add_argument("--noise", type=float, default=0.025, help="per-dimension noise of a synthetic copy")
    parser.add_argument("--retrieval-mode", choices=("dense", "lexical", "hybrid"), default=None,
                        help="RETRIEVAL_MODE of the server (default: the product's default)")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds (after --warmup)")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of load before measuring")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (threads)")
    parser.add_argument("--stream-share", type=float, default=0.5, help="share of requests that are /stream")
    parser.add_argument("--k", type=int, default=4, help="chunks per request")
    parser.add_argument("--mode", choices=("embedded", "gunicorn"), default="embedded",
                        help="embedded: `docstune serve` (one process, threads); gunicorn: gunicorn workers")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn worker processes (>1 needs --qdrant-url)")
    parser.add_argument("--threads", type=int, default=8, help="request threads per server process")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (PostgreSQL); default SQLite in DATA_DIR")
    parser.add_argument("--qdrant-url", default=None,
                        help="a Qdrant server; default the embedded Qdrant Edge (a folder in DATA_DIR)")
    parser.add_argument("--qdrant-api-key", default=None)
    parser.add_argument("--redis-url", default=None, help="job queue on Redis (not used by the load itself)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="default bench/results/load-data/<chunks>-<tokens>-<database>[-synthetic<seed chunks>]")
    parser.add_argument("--lyft", type=Path, default=ROOT.parent / "shared" / "data" / "lyft_10k_ir.json")
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--anchor-seconds", type=float, default=10,
                        help="seconds of plain one-question-per-call encoding measured before the server starts "
                             "(the rate /api/search is judged against); 0: skip")
    parser.add_argument("--ready-timeout", type=float, default=600)
    args = parser.parse_args()

    if args.mode == "embedded" and args.workers != 1:
        parser.error("--mode embedded is one process (`docstune serve`); use --mode gunicorn for --workers")
    if args.workers > 1 and not args.qdrant_url:
        parser.error(f"--workers {args.workers} needs --qdrant-url: the embedded Qdrant Edge folder is opened by one "
                     f"process (a folder lock), so without a Qdrant server run --workers 1 with --threads N")
    RESULTS.mkdir(parents=True, exist_ok=True)
    database_key = "sqlite"
    if args.database_url:
        database_key = "db-" + hashlib.sha1(args.database_url.encode()).hexdigest()[:8]
    if args.qdrant_url:
        database_key += "-qdrant-" + hashlib.sha1(args.qdrant_url.encode()).hexdigest()[:8]
    corpus_key = "" if args.corpus == "real" else f"-synthetic{args.seed_chunks}"
    data_dir = (args.data_dir or RESULTS / "load-data"
                / f"{args.chunks}-{args.chunk_tokens}-{database_key}{corpus_key}").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)

    corpus = ensure_corpus(args, data_dir)
    load_before = [round(x, 2) for x in os.getloadavg()]
    questions = questions_from(args.lyft)
    anchor = None
    if args.anchor_seconds > 0:
        anchor = plain_encode_rate(questions, args.anchor_seconds)
        print(f"anchor: a bare SentenceTransformer encodes {anchor['questions_per_s']:.1f} single questions/s "
              f"({anchor['questions']} in {anchor['seconds']:g} s)", flush=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = RESULTS / f"load-server-{args.mode}.log"
    print(f"server: {args.mode}, {args.workers} worker(s) x {args.threads} threads on {base} (log: {log})", flush=True)
    started = time.monotonic()
    process = start_server(args, data_dir, port)
    memory_samples: list[dict] = []
    try:
        ready = wait_ready(base, process, args.ready_timeout, log)
        print(f"server: ready in {time.monotonic() - started:.0f} s, {ready['vector_store'].get('points')} points",
              flush=True)
        idle = tree_memory(process.pid)
        recorder = Recorder()
        start_at = time.perf_counter() + args.warmup
        stop_at = start_at + args.duration
        threads = [threading.Thread(target=client_loop, daemon=True,
                                    args=(i, args, base, questions, start_at, stop_at, recorder))
                   for i in range(args.clients)]
        print(f"load: {args.clients} clients, {args.stream_share:.0%} /stream, {args.warmup:g} s warm-up, "
              f"{args.duration:g} s measured ...", flush=True)
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            if time.perf_counter() >= start_at:
                memory_samples.append(tree_memory(process.pid))
            time.sleep(0.5)
        for thread in threads:
            thread.join()
    finally:
        stop_server(process)

    measured = args.duration
    per_kind = {kind: summarize(recorder.latency[kind], measured, recorder.errors[kind])
                for kind in ("search", "stream")}
    per_kind["stream"]["first_token_p50_ms"] = (round(percentile(recorder.first_byte, 50), 1)
                                                if recorder.first_byte else None)
    every = [v for kind in ("search", "stream") for v in recorder.latency[kind]]
    total = summarize(every, measured, sum(recorder.errors.values()))
    peak = max(memory_samples, key=lambda m: m["pss_mb"]) if memory_samples else idle
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": args.mode, "workers": args.workers, "threads": args.threads, "clients": args.clients,
        "duration_s": args.duration, "warmup_s": args.warmup, "stream_share": args.stream_share, "k": args.k,
        "database": "sqlite" if not args.database_url else redact(args.database_url),
        "qdrant": redact(args.qdrant_url) or "Qdrant Edge (embedded)", "llm": "extractive",
        "retrieval_mode": args.retrieval_mode or "default", "command": " ".join(sys.argv),
        "corpus": corpus, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                      "load_average_1m": round(os.getloadavg()[0], 2),
                                      "load_average_before": load_before},
        "total": total, "search": per_kind["search"], "stream": per_kind["stream"], "anchor_plain_encode": anchor,
        "embedding_settings": {name: os.environ[name] for name in ("EMBED_BATCH_WAIT_MS", "EMBED_BATCH_MAX",
                                                                   "EMBED_QUEUE_MAX", "QUERY_CACHE_SIZE",
                                                                   "OMP_NUM_THREADS")
                               if name in os.environ},
        "error_samples": recorder.error_samples,
        "server_memory": {"idle": idle, "peak": peak,
                          "note": "summed over the server's process tree; RSS counts pages shared by forked "
                                  "workers once per worker, PSS splits them"},
    }
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"load-{args.mode}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))

    print(f"\n{args.mode}: {args.workers} worker(s) x {args.threads} threads, {args.clients} clients, "
          f"{corpus['chunks']} chunks, database {result['database']}, {args.duration:g} s")
    print(f"{'':8} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, row in (("search", per_kind["search"]), ("stream", per_kind["stream"]), ("total", total)):
        print(f"{name:8} {row['requests']:>6} {row['requests_per_s']:>7.2f} {row.get('p50_ms', 0):>8.1f} "
              f"{row.get('p95_ms', 0):>8.1f} {row.get('p99_ms', 0):>8.1f} {row['errors']:>7}")
    if anchor and per_kind["search"]["requests"]:
        print(f"search: {per_kind['search']['requests_per_s'] / anchor['questions_per_s']:.2f}x the plain "
              f"one-question encode rate ({anchor['questions_per_s']:.1f}/s)")
    if per_kind["stream"]["first_token_p50_ms"] is not None:
        print(f"stream: first answer token p50 {per_kind['stream']['first_token_p50_ms']:.1f} ms")
    print(f"server memory ({peak['processes']} processes): idle RSS {idle['rss_mb']:.0f} MB / "
          f"PSS {idle['pss_mb']:.0f} MB, peak RSS {peak['rss_mb']:.0f} MB / PSS {peak['pss_mb']:.0f} MB")
    for sample in recorder.error_samples[:3]:
        print(f"error: {sample}")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
