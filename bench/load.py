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

The load during a retrain (``--during-retrain``; issue 28: "during a retrain, /api/search p95 <= 2x idle"):
the server runs on a copy of the corpus's DATA_DIR (removed afterwards; ``--keep-retrain-data`` keeps it), so
the ratings and the registry version it makes never reach the reused corpus. Embedded mode only: the retrain
runs in the server's own job worker (at JOBS_NICE). Three steps on one server:

1. **idle**: the load as above (its figures are also the JSON's top-level ``search``/``stream``/``total``);
2. ``--retrain-questions`` of the data set's questions are asked (``POST /api/answer``), each by its own owner,
   and rated ``like`` with the first shown source marked relevant; ``POST /api/admin/retrain`` with
   ``include_synthetic`` and ``--retrain-epochs`` (``--retrain-synthetic-chunks``: more synthetic questions, a
   longer fine-tune; no ``auto_promote``); ``GET /api/jobs/<id>`` is polled until its progress says the
   fine-tune runs (``...: the trainer starts`` or ``...: step i of n``);
3. **during retrain**: the same load (clients, warm-up, duration) again, the job polled every ``--job-poll``
   seconds. The phase is ``valid`` only when the fine-tune is still on at its end; else the table says so.
   Then the job is followed to its end (``--retrain-wait``) for its final status.
4. (``--idle-after``) once the job has ended, the same load again on the same server: the two idle phases
   should agree; when they don't, the machine's other load changed and the ratio is not to be trusted.

The table shows both phases side by side and p95 during / p95 idle (JSON: ``phases``, ``retrain``,
``p95_ratio``; written to bench/results/load-embedded-during-retrain-<time>.json). The script exits 1 when the
phase is not valid::

    # /api/search only, 8 clients; the fine-tune must outlast warm-up + duration (check `valid`). Without
    # QUERY_CACHE_SIZE=0 the idle phase fills the question cache and the second phase is cheaper by that.
    # On a shared 2-core machine, torch's default OpenMP threads made /api/search bimodal (paired 500-chunk
    # runs, 4 clients, cache off: 3-10 req/s with a p95 of 1.2 s, 66 req/s and p95 83 ms with
    # OMP_NUM_THREADS=1): --idle-after shows whether the idle phase was stable
    QUERY_CACHE_SIZE=0 .venv/bin/python bench/load.py --chunks 20000 --stream-share 0 --clients 8 --duration 60 \\
        --during-retrain
    # smoke run (a tiny corpus, a short phase)
    .venv/bin/python bench/load.py --chunks 500 --duration 8 --clients 4 --stream-share 0 --during-retrain \\
        --retrain-questions 20

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
import re
import shutil
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

ADMIN_TOKEN = "bench-admin-token-not-secret"  # the server's, for the admin routes --during-retrain calls
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
           "ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONUNBUFFERED": "1", "SERVE_THREADS": str(args.threads)}
    if args.retrieval_mode:
        env["RETRIEVAL_MODE"] = args.retrieval_mode
    for name, value in (("DATABASE_URL", args.database_url), ("QDRANT_URL", args.qdrant_url),
                        ("QDRANT_API_KEY", args.qdrant_api_key), ("REDIS_URL", args.redis_url)):
        if value:
            env[name] = value
        else:
            env.pop(name, None)
    for setting in args.server_env:  # the server's only: the anchor keeps this process's environment
        name, _, value = setting.partition("=")
        env[name] = value
    return env


def env_setting(text: str) -> str:
    """--server-env's NAME=VALUE, refused with a readable line when it is not one."""
    name, equals, _ = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE (e.g. OMP_NUM_THREADS=1)")
    return text


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


# -- the load during a retrain (--during-retrain) ----------------------------------------------------
# what run_retrain's fine-tune writes as its progress (jobs/handlers.py, training_progress): the trainer is on
FINE_TUNE_MESSAGE = re.compile(r": (the trainer starts|step \d+ of \d+)")
JOB_ENDED = ("done", "failed", "cancelled")


def fine_tuning(job: dict) -> bool:
    """Whether the job is running its fine-tune now (not its preparation, not its evaluation after the last step)."""
    message = (job.get("progress") or {}).get("message") or ""
    return job.get("status") == "running" and bool(FINE_TUNE_MESSAGE.search(message)) \
        and not message.endswith(", evaluating")


def rate_answers(base: str, questions: list[str], count: int, k: int, timeout: float) -> dict:
    """``count`` of the data set's distinct questions (a fixed sample) asked with POST /api/answer, each by its own
    owner, and rated ``like`` with the first shown source marked relevant: the retrain's training rows."""
    import httpx

    chosen = random.Random(0).sample(sorted(set(questions)), min(count, len(set(questions))))
    rated, errors = 0, []
    with httpx.Client(timeout=timeout) as client:
        for i, question in enumerate(chosen):
            owner = {"X-Owner-Token": f"bench-load-rater-{i:04d}"}
            reply = client.post(f"{base}/api/answer", headers=owner, json={"question": question, "chunks": k})
            sources = reply.json().get("sources") if reply.status_code == 200 else None
            if not sources:
                errors.append(f"answer: HTTP {reply.status_code}: {reply.text[:200]}")
                continue
            rating = client.post(f"{base}/api/feedback", headers=owner, json={
                "message_id": reply.json()["message_id"], "feedback": "like",
                "sources": {sources[0]["chunk_id"]: "relevant"}})
            if rating.status_code != 200:
                errors.append(f"feedback: HTTP {rating.status_code}: {rating.text[:200]}")
                continue
            rated += 1
    if not rated:
        raise SystemExit(f"no answer could be rated, so there is nothing to retrain on: {errors[:3]}")
    return {"asked": len(chosen), "rated": rated, "errors": len(errors), "error_samples": errors[:5]}


class JobWatch:
    """``GET /api/jobs/<id>`` as the admin: every change of the job's status or progress message, with its time
    (seconds since the job was submitted); in the caller's thread (``wait``) or every ``poll`` s in one of its own."""

    def __init__(self, base: str, job_id: str, timeout: float):
        import httpx

        self.client = httpx.Client(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=timeout)
        self.url = f"{base}/api/jobs/{job_id}"
        self.started = time.perf_counter()
        self.seen: list[dict] = []
        self.job: dict = {}
        self._printed = float("-inf")
        self.poll_errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return round(time.perf_counter() - self.started, 1)

    def check(self) -> dict:
        response = self.client.get(self.url)
        if response.status_code != 200:
            raise SystemExit(f"GET {self.url} -> HTTP {response.status_code}: {response.text[:300]}")
        self.job = response.json()
        progress = self.job.get("progress") or {}
        if not self.seen or (self.seen[-1]["status"], self.seen[-1]["message"]) != (self.job["status"],
                                                                                    progress.get("message")):
            changed = not self.seen or self.seen[-1]["status"] != self.job["status"]
            self.seen.append({"t": self.now(), "status": self.job["status"], "percent": progress.get("percent"),
                              "message": progress.get("message")})
            if changed or not FINE_TUNE_MESSAGE.search(progress.get("message") or "") \
                    or self.seen[-1]["t"] - self._printed >= 15:  # every message is kept; the console gets fewer
                self._printed = self.seen[-1]["t"]
                print(f"  retrain job {self.seen[-1]['t']:>7.1f} s  {self.job['status']:<9} "
                      f"{progress.get('message') or ''}", flush=True)
        return self.job

    def wait(self, until, timeout: float, poll: float) -> dict:
        """Poll until ``until(job)`` or the job ends; SystemExit after ``timeout`` seconds."""
        deadline = time.perf_counter() + timeout
        while not until(self.check()) and self.job["status"] not in JOB_ENDED:
            if time.perf_counter() > deadline:
                raise SystemExit(f"the retrain job was still {self.job['status']} ({self.seen[-1]['message']}) "
                                 f"after {timeout:g} s")
            time.sleep(poll)
        return self.job

    def follow(self, poll: float) -> None:
        def loop():
            while not self._stop.wait(poll):
                try:
                    self.check()
                except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failed poll is kept; the next one tries
                    self.poll_errors.append(f"{self.now()} s: {type(exc).__name__}: {exc}"[:300])

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def retrain_body(args) -> dict:
    """POST /api/admin/retrain's body: a fine-tune long enough to load the server; no auto_promote."""
    body = {"include_synthetic": True, "epochs": args.retrain_epochs}
    if args.retrain_synthetic_chunks is not None:
        body["synthetic_chunks"] = args.retrain_synthetic_chunks
    return {**body, **key_json_options(args.retrain_option)}


def key_json_options(items: list[str]) -> dict:
    """``--retrain-option KEY=JSON`` items as a dict (a value that is not JSON stays a string)."""
    options = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def load_during_retrain(args, base: str, questions: list[str], process: subprocess.Popen) -> tuple[dict, dict]:
    """Rate answers, start a retrain, wait for its fine-tune to start, then the same load as the idle phase.
    Returns the retrain (its request, the ratings, every progress message, its final status) and the phase
    (``run_load``'s figures, the messages seen during it, whether the job and its fine-tune were still on at
    the end: ``valid`` only when the fine-tune ran over the whole phase, warm-up included)."""
    import httpx

    print(f"retrain: asking and rating {args.retrain_questions} questions ...", flush=True)
    ratings = rate_answers(base, questions, args.retrain_questions, args.k, args.request_timeout)
    print(f"retrain: {ratings['rated']} answers rated ({ratings['errors']} errors)", flush=True)
    body = retrain_body(args)
    response = httpx.post(f"{base}/api/admin/retrain", json=body, timeout=args.request_timeout,
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    if response.status_code != 202:
        raise SystemExit(f"POST /api/admin/retrain {body} -> HTTP {response.status_code}: {response.text[:300]}")
    job_id = response.json()["job_id"]
    print(f"retrain: job {job_id} submitted with {json.dumps(body)}; waiting for its fine-tune to start ...",
          flush=True)
    watch = JobWatch(base, job_id, args.request_timeout)
    retrain = {"job_id": job_id, "request": body, "ratings": ratings}
    job = watch.wait(fine_tuning, args.retrain_start_timeout, args.job_poll)
    phase: dict = {"valid": False}
    if fine_tuning(job):
        retrain["fine_tune_started_s"] = watch.now()
        first_seen = len(watch.seen) - 1  # the message that started the phase, and every one after it
        began = watch.now()
        watch.follow(args.job_poll)
        phase = run_load(args, base, questions, process, "during retrain")
        watch.stop()
        job = watch.check()
        phase.update(job_status_at_end=job["status"], fine_tune_on_at_end=fine_tuning(job),
                     job_progress=watch.seen[first_seen:], job_poll_errors=watch.poll_errors, began_s=began,
                     ended_s=watch.now())
        phase["valid"] = phase["fine_tune_on_at_end"]
        if not phase["valid"]:
            print(f"retrain: the fine-tune ended before the phase did ({job['status']}: "
                  f"{(job.get('progress') or {}).get('message')}): not a valid measurement; give the retrain more "
                  f"work (--retrain-synthetic-chunks, --retrain-epochs) or a shorter --duration", flush=True)
    else:
        print(f"retrain: the job ended ({job['status']}: {job.get('error')}) before its fine-tune started: "
              f"no phase during a retrain", flush=True)
        phase["skipped"] = f"the job {job['status']} before its fine-tune started: {job.get('error')}"
    if job["status"] not in JOB_ENDED and args.retrain_wait > 0:
        print(f"retrain: waiting up to {args.retrain_wait:g} s for the job to end ...", flush=True)
        try:
            job = watch.wait(lambda j: False, args.retrain_wait, args.job_poll)
        except SystemExit as exc:
            print(f"retrain: {exc}; the server is stopped with it", flush=True)
    result = job.get("result") or {}
    retrain.update(status=job["status"], error=job.get("error"), seconds=watch.now(), progress=watch.seen,
                   verdict=result.get("verdict"), version=result.get("version"), plan=result.get("plan"),
                   data=result.get("data"))
    watch.client.close()
    return retrain, phase


def p95_ratios(idle: dict, during: dict | None) -> dict:
    """p95 during the retrain over p95 idle, per kind (issue 28: /api/search's should be at most 2)."""
    ratios = {}
    for kind in ("search", "stream", "total"):
        before, after = idle[kind].get("p95_ms"), (during or {}).get(kind, {}).get("p95_ms")
        ratios[kind] = round(after / before, 2) if before and after else None
    return ratios


def print_phases(phases: dict, retrain: dict, ratios: dict, ratios_after: dict | None) -> None:
    during = phases["during retrain"]
    print(f"{'phase':16} {'kind':7} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, phase in phases.items():
        if label == "idle after" and phase is None:
            continue
        if not phase or "total" not in phase:
            print(f"{label:16} (not measured: {(phase or {}).get('skipped')})")
            continue
        for kind in ("search", "stream"):
            row = phase[kind]
            if row["requests"] or row["errors"]:
                print(f"{label:16} {kind:7} {row['requests']:>6} {row['requests_per_s']:>7.2f} "
                      f"{row.get('p50_ms', 0):>8.1f} {row.get('p95_ms', 0):>8.1f} {row.get('p99_ms', 0):>8.1f} "
                      f"{row['errors']:>7}")
    if ratios.get("search") is not None:
        print(f"search p95 during retrain / idle: {ratios['search']:.2f}x (issue 28 asks for at most 2x)")
        if os.environ.get("QUERY_CACHE_SIZE") != "0":
            print("note: the question cache is on (QUERY_CACHE_SIZE unset or not 0): the idle phase and the ratings "
                  "filled it, so the phase during the retrain embeds fewer questions than the idle one did")
    if ratios_after and ratios_after.get("search") is not None:
        print(f"search p95 during retrain / idle after: {ratios_after['search']:.2f}x (far from the ratio above: "
              f"the machine's other load changed between the phases)")
    memory = [(label, phase.get("peak_memory")) for label, phase in phases.items()
              if phase and phase.get("peak_memory")]
    print("server memory peak (RSS / PSS): " + ", ".join(f"{label} {m['rss_mb']:.0f} / {m['pss_mb']:.0f} MB"
                                                         for label, m in memory))
    if during and "total" in during:
        status = "valid: the fine-tune ran over the whole phase" if during["valid"] else (
            f"NOT valid: at the end the job was {during['job_status_at_end']} and its fine-tune "
            f"{'on' if during['fine_tune_on_at_end'] else 'over'}")
        print(f"during retrain: {status}; progress seen: "
              + " | ".join(f"{p['t']:.0f} s {p['message']}" for p in during["job_progress"]))
    print(f"retrain job {retrain['job_id'][:8]}: {retrain['status']} after {retrain['seconds']:.0f} s"
          + (f", verdict {retrain['verdict']}" if retrain.get("verdict") else "")
          + (f", error: {retrain['error']}" if retrain.get("error") else "")
          + f" ({retrain['ratings']['rated']} ratings, body {json.dumps(retrain['request'])})")


def run_load(args, base: str, questions: list[str], process: subprocess.Popen, label: str = "load") -> dict:
    """--clients threads for --warmup + --duration seconds; the measured window's latencies per kind, errors and
    the server's peak memory over it."""
    recorder = Recorder()
    start_at = time.perf_counter() + args.warmup
    stop_at = start_at + args.duration
    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(i, args, base, questions, start_at, stop_at, recorder))
               for i in range(args.clients)]
    print(f"{label}: {args.clients} clients, {args.stream_share:.0%} /stream, {args.warmup:g} s warm-up, "
          f"{args.duration:g} s measured ...", flush=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    memory_samples: list[dict] = []
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        if time.perf_counter() >= start_at:
            memory_samples.append(tree_memory(process.pid))
        time.sleep(0.5)
    for thread in threads:
        thread.join()
    per_kind = {kind: summarize(recorder.latency[kind], args.duration, recorder.errors[kind])
                for kind in ("search", "stream")}
    per_kind["stream"]["first_token_p50_ms"] = (round(percentile(recorder.first_byte, 50), 1)
                                                if recorder.first_byte else None)
    every = [v for kind in ("search", "stream") for v in recorder.latency[kind]]
    return {"search": per_kind["search"], "stream": per_kind["stream"],
            "total": summarize(every, args.duration, sum(recorder.errors.values())),
            "error_samples": recorder.error_samples,
            "peak_memory": max(memory_samples, key=lambda m: m["pss_mb"]) if memory_samples else None,
            "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()]}


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
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE", type=env_setting,
                        help="an environment variable for the server only (e.g. OMP_NUM_THREADS=1); repeatable")
    parser.add_argument("--request-timeout", type=float, default=120)
    parser.add_argument("--anchor-seconds", type=float, default=10,
                        help="seconds of plain one-question-per-call encoding measured before the server starts "
                             "(the rate /api/search is judged against); 0: skip")
    parser.add_argument("--ready-timeout", type=float, default=600)
    retraining = parser.add_argument_group("the load during a retrain (--during-retrain)")
    retraining.add_argument("--during-retrain", action="store_true",
                        help="measure the load idle, then again while a retrain job fine-tunes (on a copy of the "
                             "corpus's DATA_DIR; embedded mode, SQLite and Qdrant Edge only)")
    retraining.add_argument("--retrain-questions", type=int, default=40,
                        help="questions asked and rated (like, first source relevant) before the retrain")
    retraining.add_argument("--retrain-epochs", type=int, default=1, help="the retrain's epochs")
    retraining.add_argument("--retrain-synthetic-chunks", type=int, default=None,
                        help="chunks that get synthetic questions (the retrain's training rows); default the "
                             "server's RETRAIN_SYNTHETIC_CHUNKS")
    retraining.add_argument("--retrain-option", action="append", default=[], metavar="KEY=JSON",
                        help="any other option of POST /api/admin/retrain, e.g. batch_size=16 (repeatable)")
    retraining.add_argument("--retrain-start-timeout", type=float, default=1800,
                        help="longest wait for the retrain's fine-tune to start")
    retraining.add_argument("--retrain-wait", type=float, default=1800,
                        help="after the phase, wait up to this long for the job to end (its final status); 0: don't")
    retraining.add_argument("--idle-after", action="store_true",
                            help="once the job has ended, the same load a third time (idle again): a check that "
                                 "the machine's other load did not change between the phases")
    retraining.add_argument("--job-poll", type=float, default=1.0, help="seconds between GET /api/jobs/<id>")
    retraining.add_argument("--keep-retrain-data", action="store_true",
                            help="keep the DATA_DIR copy the retrain ran in")
    args = parser.parse_args()

    if args.mode == "embedded" and args.workers != 1:
        parser.error("--mode embedded is one process (`docstune serve`); use --mode gunicorn for --workers")
    if args.workers > 1 and not args.qdrant_url:
        parser.error(f"--workers {args.workers} needs --qdrant-url: the embedded Qdrant Edge folder is opened by one "
                     f"process (a folder lock), so without a Qdrant server run --workers 1 with --threads N")
    if args.during_retrain and (args.mode != "embedded" or args.database_url or args.qdrant_url or args.redis_url):
        parser.error("--during-retrain runs the retrain in the server's own job worker on a copy of the embedded "
                     "DATA_DIR: use --mode embedded without --database-url, --qdrant-url and --redis-url")
    if args.during_retrain and args.retrain_questions < 1:
        parser.error(f"--retrain-questions must be 1 or more; got {args.retrain_questions}")
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
    run_dir = data_dir
    if args.during_retrain:  # ratings, a job and a registry version: made in a copy, the corpus stays as built
        run_dir = data_dir.parent / f"{data_dir.name}-retrain-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        shutil.copytree(data_dir, run_dir)
        print(f"retrain: the server runs on a copy of the corpus, {run_dir}", flush=True)
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
    process = start_server(args, run_dir, port)
    retrain = during = idle_after = None
    try:
        ready = wait_ready(base, process, args.ready_timeout, log)
        print(f"server: ready in {time.monotonic() - started:.0f} s, {ready['vector_store'].get('points')} points",
              flush=True)
        idle = tree_memory(process.pid)
        measured = run_load(args, base, questions, process, "idle" if args.during_retrain else "load")
        if args.during_retrain:
            retrain, during = load_during_retrain(args, base, questions, process)
            if args.idle_after and retrain["status"] in JOB_ENDED:  # the same server idle again: was the machine?
                idle_after = run_load(args, base, questions, process, "idle after")
            elif args.idle_after:
                print(f"idle after: not measured, the job was still {retrain['status']}", flush=True)
    finally:
        stop_server(process)
        if run_dir != data_dir and not args.keep_retrain_data:
            shutil.rmtree(run_dir, ignore_errors=True)

    per_kind, total = {k: measured[k] for k in ("search", "stream")}, measured["total"]
    peak = measured["peak_memory"] or idle
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
        # with --during-retrain: the idle phase (also under phases.idle)
        "total": total, "search": per_kind["search"], "stream": per_kind["stream"], "anchor_plain_encode": anchor,
        "embedding_settings": {name: os.environ[name] for name in ("EMBED_BATCH_WAIT_MS", "EMBED_BATCH_MAX",
                                                                   "EMBED_QUEUE_MAX", "QUERY_CACHE_SIZE",
                                                                   "OMP_NUM_THREADS", "JOBS_NICE")
                               if name in os.environ},
        "error_samples": measured["error_samples"],
        "server_memory": {"idle": idle, "peak": peak,
                          "note": "summed over the server's process tree; RSS counts pages shared by forked "
                                  "workers once per worker, PSS splits them"},
    }
    if args.during_retrain:
        result["phases"] = {"idle": measured, "during_retrain": during, "idle_after": idle_after}
        result["retrain"] = retrain
        result["p95_ratio"] = p95_ratios(measured, during)
        if idle_after:
            result["p95_ratio_to_idle_after"] = p95_ratios(idle_after, during)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"load-{args.mode}{'-during-retrain' if args.during_retrain else ''}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))

    print(f"\n{args.mode}: {args.workers} worker(s) x {args.threads} threads, {args.clients} clients, "
          f"{corpus['chunks']} chunks, database {result['database']}, {args.duration:g} s")
    if args.during_retrain:
        print_phases({"idle": measured, "during retrain": during, "idle after": idle_after}, retrain,
                     result["p95_ratio"], result.get("p95_ratio_to_idle_after"))
    else:
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
    for sample in measured["error_samples"][:3] + ((during or {}).get("error_samples") or [])[:3]:
        print(f"error: {sample}")
    print(f"written: {out}")
    if args.during_retrain and not (during or {}).get("valid"):
        sys.exit(1)


if __name__ == "__main__":
    main()
