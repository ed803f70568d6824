"""The feedback loop, measured end to end through the public HTTP API of a live `docstune serve`.

For each variant, in a fresh DATA_DIR with its own server (the embedded defaults: one process
with threads, SQLite, Qdrant Edge in process, the in-process job worker, the offline extractive
answerer; rate limits off):

1. **ingest**: every corpus entry of the IR JSON becomes its own file ``<cid>.txt``, uploaded
   through ``POST /api/upload`` in batches of ``--upload-batch``; ``GET /api/task_status`` is
   polled until every ingest job is done. The product re-chunks the files, so relevance is
   **file-level**: a retrieved chunk counts when its source file's corpus id is one of the
   question's ``relevant_docs``.
2. The questions are split **by chunk** into two halves with the project's rule
   (``training.split.split_ir_by_chunk``, held-out fraction 0.5, ``--seed``): half A is measured,
   half B is asked in the chat. No chunk that answers a half-A question answers a half-B one.
3. **measure**: each half-A question through ``POST /api/search`` (``--search-chunks`` chunks,
   20 = ``MAX_CHUNKS``); files are de-duplicated in ranking order, then file-level hit@1/5/10 and
   MRR@10.
4. **chat + rate**: each half-B question asked by its own simulated user (its own
   ``X-Owner-Token``) with ``POST /api/answer``; the user rates with ``POST /api/feedback``:
   ``like`` when any shown source's file is relevant, else ``dislike``, and each shown source
   ``relevant`` / ``irrelevant`` by the ground truth.
5. **retrain**: ``POST /api/admin/retrain`` with ``auto_promote`` (and the retrain options given
   here), ``GET /api/jobs/<id>`` polled until it ends, every progress message recorded with its
   time; then the promote job it submitted (``promote_job_id``), if any (**promote**: re-index
   and alias switch). ``GET /api/admin/models`` before and after (the serving version, fusion
   weight and ``weight_source``).
6. **measure** half A again.

**Rounds** (``--rounds N``, default 1): half B is split into N waves (a fixed shuffle by ``--seed``) and
steps 4-6 run once per wave, on the same server: the wave is asked and rated, the retrain (from the
model serving now, on every rating so far) is judged on the frozen evaluation set, which grows with
each round's ratings, and half A is measured. Each round's row: the wave's ratings, the evaluation
questions the retrain judged on, the gate's verdict and interval, promoted or not, the serving
version, file-level MRR@10 on half A, the round's wall time and the server's peak memory over it.
Which users rate (``sparse``) and rate wrong (``noisy``) is chosen once over the whole of half B.

Variants (``--variants``): ``all`` (every user rates), ``sparse`` (everyone asks, a random 10 % of
the questions are rated), ``noisy`` (everyone rates, 10 % of the rated messages get the opposite
verdict and every source mark flipped: a noisy user). The script reports whatever verdict string
the retrain returns (and the error of a retrain job that failed, e.g. too little feedback).

Each step records its wall time and ``os.getloadavg()`` before and after (the machine may be
shared, so timings are noisy), and the server's memory: RSS and PSS summed over its process
tree (the gunicorn master and its worker, where the training runs), sampled from /proc every
``--sample-seconds``, and each process's VmHWM. Results: ``--out``/feedback_loop-<dataset>-<time>
.json and .md (the table is printed too), the server logs beside them.

Only the measured system is reached over HTTP; the script imports the project only to read the
IR JSON and split it (data preparation) and bench/load.py's server helpers.

    # the full run (hours on a 2-core CPU: three ingests and three retrains)
    .venv/bin/python bench/feedback_loop.py
    # another data set, one variant, a faster retrain
    .venv/bin/python bench/feedback_loop.py --dataset bench/data/debian_faq_ir.json --variants all --epochs 1
    # smoke run: 30 questions per half, one epoch
    .venv/bin/python bench/feedback_loop.py --limit 30 --epochs 1
    # three rounds of ratings, a retrain (auto-promote) after each
    .venv/bin/python bench/feedback_loop.py --dataset bench/data/debian_faq_ir.json --variants all --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# the live-server helpers of the load benchmark: a free port, /ready, stopping the process group,
# the process tree and its RSS/PSS
from load import free_port, key_json_options, process_tree, stop_server, tree_memory, wait_ready  # noqa: E402,RUF100

DEFAULT_DATASET = ROOT.parent / "shared" / "data" / "lyft_10k_ir.json"
VARIANTS = ("all", "sparse", "noisy")
DESCRIPTIONS = {"all": "every user rates", "sparse": "10 % of the users rate",
                "noisy": "every user rates, 10 % of the ratings wrong"}
# settings of the environment that would change the server from the embedded defaults
SERVER_ENV_DROP = ("DATA_DIR", "DATABASE_URL", "QDRANT_URL", "QDRANT_API_KEY", "REDIS_URL", "EMBEDDINGS_NAME",
                   "RETRIEVAL_MODE", "FUSION_WEIGHT", "FUSION_METHOD", "FUSION_NORMALISE", "CHUNK_TOKENS",
                   "CHUNK_OVERLAP_TOKENS", "JOBS_WORKER", "LLM_PROVIDER", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL",
                   "ADMIN_TOKEN", "EMBEDDINGS_API_KEY", "RETRAIN_MIN_NEW_FEEDBACK", "SERVE_PORT", "SERVE_HOST")


def product_revision() -> dict | None:
    """The commit the server ran from, and whether the working tree had changes (None: not a git checkout)."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "uncommitted_changes": bool(dirty)}


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# -- data preparation (not the measured system) -----------------------------------------------
def file_name_for(cid: str) -> str:
    """A plain upload name for a corpus id (the server keeps ``upload://<name>`` as the uri)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", cid).strip("._") or "doc"
    return f"{safe}.txt"


def prepare(args) -> dict:
    from training.irjson import load_ir_json
    from training.split import split_ir_by_chunk

    ir = load_ir_json(args.dataset)
    split = split_ir_by_chunk(ir, held_out_fraction=0.5, seed=args.seed)
    measure_half, chat_half = split.held_out, split.train

    def questions(part, salt: str) -> list[dict]:
        qids = sorted(part.queries)
        if args.limit and len(qids) > args.limit:
            qids = sorted(random.Random(f"{args.seed}-{salt}").sample(qids, args.limit))
        return [{"qid": q, "question": part.queries[q], "relevant": sorted(part.relevant_docs[q])} for q in qids]

    files: dict[str, str] = {}
    for cid in ir.corpus:
        name = file_name_for(cid)
        if name in files:
            raise SystemExit(f"two corpus ids map to the upload name {name!r}: {files[name]!r} and {cid!r}")
        files[name] = cid
    return {"ir": ir, "measure": questions(measure_half, "measure"), "chat": questions(chat_half, "chat"),
            "files": files, "halves": {"measure_questions": len(measure_half.queries),
                                       "chat_questions": len(chat_half.queries),
                                       "held_out_chunks": len(split.held_out_chunks)}}


def write_corpus(ir, files: dict[str, str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, cid in files.items():
        text = ir.corpus[cid]
        (folder / name).write_text(text if text.strip() else cid, encoding="utf-8")


# -- the server ----------------------------------------------------------------------------------
class Server:
    """``docstune serve`` on a free port in ``data_dir``, and a thread sampling its memory."""

    def __init__(self, args, data_dir: Path, log: Path):
        self.args, self.data_dir, self.log_path = args, data_dir, log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_urlsafe(24)
        self.samples: list[dict] = []
        self.hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self.process: subprocess.Popen | None = None

    def start(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_DROP}
        env.update({"DATA_DIR": str(self.data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                    "LLM_PROVIDER": "extractive", "RATE_LIMIT_ENABLED": "false", "ADMIN_TOKEN": self.admin_token,
                    "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"})
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "application.cli", "serve", "--port", str(self.port),
             "--threads", str(self.args.threads)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        threading.Thread(target=self._sample, daemon=True).start()
        return wait_ready(self.base, self.process, self.args.ready_timeout, self.log_path)

    def _sample(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and self.process.poll() is None:
            memory = tree_memory(self.process.pid)
            for pid in process_tree(self.process.pid):
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), int(line.split()[1]))
                except (OSError, ValueError):
                    continue
            self.samples.append({"t": round(time.monotonic() - started, 1), "mono": time.monotonic(), **memory})
            self._stop.wait(self.args.sample_seconds)

    def peak_between(self, start: float, end: float) -> dict | None:
        inside = [s for s in self.samples if start <= s["mono"] <= end]
        if not inside:  # a step shorter than the sampling period: the last sample before its end
            inside = [s for s in self.samples if s["mono"] <= end][-1:]
        if not inside:
            return None
        peak = max(inside, key=lambda s: s["rss_mb"])
        return {"rss_mb": peak["rss_mb"], "pss_mb": max(s["pss_mb"] for s in inside)}

    def stop(self) -> dict:
        self._stop.set()
        if self.process is not None:
            stop_server(self.process)
        self.log.close()
        peak = max(self.samples, key=lambda s: s["rss_mb"]) if self.samples else {}
        return {"peak_tree_rss_mb": peak.get("rss_mb"),
                "peak_tree_pss_mb": max((s["pss_mb"] for s in self.samples), default=None),
                "peak_process_hwm_mb": round(max(self.hwm_kb.values(), default=0) / 1024, 1),
                "processes": peak.get("processes"), "samples": len(self.samples),
                "note": "tree RSS/PSS: summed over `docstune serve`'s process tree (gunicorn master + worker), "
                        "sampled; process HWM: the largest VmHWM (kernel-recorded peak RSS) of one process"}


class Client:
    """JSON over HTTP (httpx), with the request and response of any unexpected status kept for the report."""

    def __init__(self, base: str, admin_token: str, timeout: float):
        import httpx

        self.httpx = httpx
        self.base = base
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        # gunicorn closes a keep-alive connection after 2 s idle (its default); a pooled connection idle
        # that long may be closed just as a request goes out on it, so none is reused after 1 s
        self.http = httpx.Client(timeout=timeout, limits=httpx.Limits(keepalive_expiry=1.0))
        self.errors: list[dict] = []

    def call(self, method: str, path: str, *, admin: bool = False, owner: str | None = None, expect=(200,),
             **kwargs):
        headers = dict(self.admin) if admin else {}
        if owner:
            headers["X-Owner-Token"] = owner
        try:
            response = self.http.request(method, self.base + path, headers=headers, **kwargs)
        except (self.httpx.RemoteProtocolError, self.httpx.ConnectError) as exc:
            if method != "GET":  # not repeated: an upload, an answer or a rating could happen twice
                self.errors.append({"request": f"{method} {path}", "status": None, "response": repr(exc)})
                raise
            response = self.http.request(method, self.base + path, headers=headers, **kwargs)  # once more
        if response.status_code not in expect:
            body = kwargs.get("json")
            error = {"request": f"{method} {path}", "body": body if body is None or len(json.dumps(body)) < 2000
                     else "(large)", "status": response.status_code, "response": response.text[:2000]}
            self.errors.append(error)
            raise RuntimeError(f"{method} {path} -> HTTP {response.status_code}: {response.text[:500]}")
        return response.json()

    def close(self) -> None:
        self.http.close()


class Step:
    """Wall time and load average of one step, and the server's peak memory during it."""

    def __init__(self, record: dict, name: str, server: Server):
        self.record, self.name, self.server = record, name, server

    def __enter__(self):
        self.load_before = load_avg()
        self.mono = time.monotonic()
        print(f"  [{self.name}] ... (load {self.load_before})", flush=True)
        return self

    def __exit__(self, *exc):
        end = time.monotonic()
        seconds = round(end - self.mono, 1)
        self.record["steps"][self.name] = {"seconds": seconds, "load_before": self.load_before,
                                           "load_after": load_avg(),
                                           "server_memory_peak": self.server.peak_between(self.mono, end)}
        print(f"  [{self.name}] {seconds:.1f} s{' (failed)' if exc[0] else ''}", flush=True)
        return False


# -- the steps -----------------------------------------------------------------------------------
def ingest(client: Client, corpus: Path, files: dict[str, str], batch: int, poll: float, timeout: float) -> dict:
    names = sorted(files)
    tasks = []
    for start in range(0, len(names), batch):
        handles = [(n, (corpus / n).open("rb")) for n in names[start:start + batch]]
        try:
            reply = client.call("POST", "/api/upload", admin=True, expect=(202,),
                                files=[("file", (n, fh, "text/plain")) for n, fh in handles])
        finally:
            for _, fh in handles:
                fh.close()
        tasks.append(reply["task_id"])
    deadline = time.monotonic() + timeout
    pending, failed, results = set(tasks), [], {}
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} ingest tasks not done after {timeout:g} s")
        for task in sorted(pending):
            view = client.call("GET", "/api/task_status", admin=True, params={"task_id": task})
            if view["status"] in ("SUCCESS", "FAILURE"):
                pending.discard(task)
                results[task] = view
                if view["status"] == "FAILURE":
                    failed.append({"task_id": task, "error": view.get("error")})
        if pending:
            time.sleep(poll)
    sources = client.call("GET", "/api/sources", admin=True)
    sources = sources if isinstance(sources, list) else sources.get("sources", [])
    chunks = sum(int(s.get("chunk_count") or 0) for s in sources)
    return {"files": len(names), "upload_requests": len(tasks), "failed_tasks": failed, "sources": len(sources),
            "chunks": chunks, "label_free": settle_label_free(client, poll, timeout)}


def settle_label_free(client: Client, poll: float, timeout: float) -> list[dict]:
    """Wait until no ``label_free`` job (the fusion weight fitted after an ingest, FUSION_LABEL_FREE) is
    queued or running, so that "before" is measured on the weight the deployment then serves; each such
    job's outcome."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = client.call("GET", "/api/jobs", admin=True, params={"kind": "label_free", "limit": 50})["jobs"]
        if not any(job["status"] in ("queued", "running") for job in jobs):
            return [{"status": job["status"], **{k: (job.get("result") or {}).get(k)
                                                 for k in ("weight", "questions", "chunks", "with_neighbours", "serving")}}
                    for job in jobs]
        if time.monotonic() > deadline:
            raise RuntimeError(f"a label_free job still runs after {timeout:g} s")
        time.sleep(poll)


def cid_of(source_uri: str | None, files: dict[str, str]) -> str | None:
    if not source_uri:
        return None
    return files.get(source_uri.rsplit("/", 1)[-1])


def ranked_files(hits: list[dict], files: dict[str, str]) -> list[str]:
    """The distinct files of the hits (their corpus ids), in ranking order."""
    ranked: list[str] = []
    for hit in sorted(hits, key=lambda h: h.get("rank", 0)):
        cid = cid_of(hit.get("source"), files) or f"?{hit.get('source')}"
        if cid not in ranked:
            ranked.append(cid)
    return ranked


def measure(client: Client, questions: list[dict], files: dict[str, str], chunks: int) -> dict:
    from training.retrieval_eval import ranking_metrics  # the metrics every evaluation uses

    scored, latencies, distinct, errors = [], [], [], 0
    for q in questions:
        started = time.perf_counter()
        try:
            hits = client.call("POST", "/api/search", json={"question": q["question"], "chunks": chunks})
        except RuntimeError:
            errors += 1
            scored.append(ranking_metrics([], q["relevant"]))  # a failed search finds nothing
            continue
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = ranked_files(hits, files)
        scored.append(ranking_metrics(ranked, q["relevant"]))
        distinct.append(len(ranked))
    n = len(questions)

    def mean(name):
        return round(sum(m[name] for m in scored) / n, 4) if n else None

    latencies.sort()
    return {"questions": n, "errors": errors, "hit@1": mean("accuracy@1"), "hit@5": mean("accuracy@5"),
            "hit@10": mean("accuracy@10"), "mrr@10": mean("mrr@10"),
            "distinct_files_mean": round(sum(distinct) / len(distinct), 1) if distinct else None,
            "fewer_than_10_files": sum(1 for d in distinct if d < 10),
            "search_p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None}


def choose_raters(variant: str, n: int, args) -> tuple[set[int], set[int]]:
    """Which of the ``n`` half-B users rate, and which of those rate wrong (indices into half B). Chosen
    once over the whole half, so the same users rate whatever ``--rounds`` is."""
    rng = random.Random(f"{args.seed}-{variant}")
    if variant == "sparse":
        rated = set(rng.sample(range(n), max(1, round(args.sparse_share * n)))) if n else set()
    else:
        rated = set(range(n))
    wrong = set(rng.sample(sorted(rated), round(args.noise_share * len(rated)))) if variant == "noisy" else set()
    return rated, wrong


def split_waves(n: int, rounds: int, seed: int) -> list[list[int]]:
    """Half B's question indices in ``rounds`` waves of (nearly) equal size, by a fixed shuffle; one
    round asks them in their order, as before rounds existed."""
    order = list(range(n))
    if rounds > 1:
        random.Random(f"{seed}-waves").shuffle(order)
    return [sorted(order[k::rounds]) for k in range(rounds)]


def chat_and_rate(client: Client, variant: str, questions: list[dict], wave: list[int], rated: set[int],
                  wrong: set[int], files: dict[str, str], args) -> dict:
    """Ask the questions ``wave`` (indices into ``questions``), each by its own user; those in ``rated``
    rate, those in ``wrong`` with the opposite verdict and every source mark flipped."""
    counts = {"asked": 0, "answer_errors": 0, "rated": 0, "likes": 0, "dislikes": 0, "wrong": 0,
              "marks_relevant": 0, "marks_irrelevant": 0, "feedback_errors": 0,
              "answers_with_a_relevant_source": 0}
    latencies = []
    for i in wave:
        q = questions[i]
        owner = f"bench-feedback-{variant}-{args.seed}-user-{i:05d}"
        started = time.perf_counter()
        try:
            reply = client.call("POST", "/api/answer", owner=owner,
                                json={"question": q["question"], "chunks": args.answer_chunks})
        except RuntimeError:
            counts["answer_errors"] += 1
            continue
        latencies.append(time.perf_counter() - started)
        counts["asked"] += 1
        relevant = set(q["relevant"])
        marks = {s["chunk_id"]: ("relevant" if cid_of(s.get("source"), files) in relevant else "irrelevant")
                 for s in reply.get("sources", [])}
        good = any(m == "relevant" for m in marks.values())
        counts["answers_with_a_relevant_source"] += good
        if i not in rated:
            continue
        verdict = "like" if good else "dislike"
        if i in wrong:
            verdict = "dislike" if good else "like"
            marks = {c: ("irrelevant" if m == "relevant" else "relevant") for c, m in marks.items()}
            counts["wrong"] += 1
        try:
            client.call("POST", "/api/feedback", owner=owner,
                        json={"message_id": reply["message_id"], "feedback": verdict, "sources": marks})
        except RuntimeError:
            counts["feedback_errors"] += 1
            continue
        counts["rated"] += 1
        counts["likes" if verdict == "like" else "dislikes"] += 1
        counts["marks_relevant"] += sum(1 for m in marks.values() if m == "relevant")
        counts["marks_irrelevant"] += sum(1 for m in marks.values() if m == "irrelevant")
    latencies.sort()
    counts["answer_p50_ms"] = round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None
    return counts


def follow_job(client: Client, job_id: str, poll: float, timeout: float, label: str) -> dict:
    """Poll ``GET /api/jobs/<id>`` until it ends; every change of its progress message, with its time."""
    started = time.monotonic()
    progress, last, printed = [], None, -1e9
    while True:
        job = client.call("GET", f"/api/jobs/{job_id}", admin=True)
        p = job.get("progress") or {}
        now = (job.get("status"), p.get("message"))
        if now != last:
            last = now
            entry = {"t": round(time.monotonic() - started, 1), "status": job.get("status"),
                     "percent": p.get("percent"), "message": p.get("message"), "load": load_avg()}
            changed = not progress or progress[-1]["status"] != entry["status"]
            progress.append(entry)
            if changed or entry["t"] - printed >= 30:  # every message is kept; the console gets a few
                printed = entry["t"]
                print(f"    {label} {entry['t']:>7.1f} s  {entry['status']:<9} {entry['message'] or ''}", flush=True)
        if job.get("status") in ("done", "failed", "cancelled"):
            return {"job": job, "progress": progress, "seconds": round(time.monotonic() - started, 1)}
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{label} job {job_id} still {job.get('status')} after {timeout:g} s")
        time.sleep(poll)


def serving_summary(models: dict) -> dict:
    serving = models.get("serving") or {}
    retrieval = serving.get("retrieval") or {}
    return {"version": serving.get("version"), "model_name": serving.get("model_name"),
            "fingerprint": serving.get("fingerprint"), "collection": serving.get("collection"),
            "weight": retrieval.get("weight"), "weight_source": retrieval.get("weight_source"),
            "weight_detail": retrieval.get("weight_detail"), "mode": retrieval.get("mode"),
            "method": retrieval.get("method")}


def retrain_body(args) -> dict:
    body = {"auto_promote": True}
    for key in ("loss", "epochs", "batch_size", "learning_rate", "max_seq_length", "hard_negatives",
                "include_synthetic"):
        value = getattr(args, key)
        if value is not None:
            body[key] = value
    if args.retrain_seed is not None:
        body["seed"] = args.retrain_seed
    return {**body, **key_json_options(args.retrain_option)}


def run_round(args, client: Client, server: Server, variant: str, data: dict, wave: list[int],
              rated: set[int], wrong: set[int], record: dict) -> dict:
    """One round: chat + rate the wave, retrain (auto-promote), wait for the promote (and the tune),
    measure half A. Its wall time and the server's peak memory over the whole round are kept."""
    one = {"round": len(record["rounds"]) + 1, "questions": len(wave), "steps": {}}
    record["rounds"].append(one)  # kept, as far as it got, when a step raises
    started = time.monotonic()
    with Step(one, "chat + rate", server):
        one["ratings"] = chat_and_rate(client, variant, data["chat"], wave, rated, wrong, data["files"], args)
    r = one["ratings"]
    print(f"  asked {r['asked']}, rated {r['rated']} ({r['likes']} likes / {r['dislikes']} dislikes, "
          f"{r['wrong']} wrong)", flush=True)
    one["feedback_stats"] = {k: v for k, v in client.call("GET", "/api/admin/feedback/stats", admin=True,
                                                          params={"latest": 0}).items()
                             if not isinstance(v, list)}
    body = retrain_body(args)
    record["retrain_request"] = body
    with Step(one, "retrain", server):
        submitted = client.call("POST", "/api/admin/retrain", admin=True, json=body, expect=(202,))
        followed = follow_job(client, submitted["job_id"], args.poll_seconds, args.job_timeout, "retrain")
    job = followed["job"]
    result = job.get("result") or {}
    gate = result.get("gate") or {}
    one["retrain"] = {"job_id": job["id"], "status": job["status"], "error": job.get("error"),
                      "verdict": result.get("verdict"), "reason": result.get("reason"),
                      "version": result.get("version"), "promote_job_id": result.get("promote_job_id"),
                      "evaluation_set": result.get("evaluation_set"), "gate": gate or None,
                      "metrics": result.get("metrics"), "retrieval": result.get("retrieval"),
                      "data": result.get("data"), "progress": followed["progress"]}
    print(f"  retrain: {job['status']}, verdict {result.get('verdict')!r} on "
          f"{(result.get('evaluation_set') or {}).get('questions')} evaluation questions, interval "
          f"{gate.get('interval')}: {result.get('reason') or job.get('error')}", flush=True)
    promote_id = result.get("promote_job_id")
    one["promote"] = None
    if promote_id:
        with Step(one, "promote", server):
            followed = follow_job(client, promote_id, args.poll_seconds, args.job_timeout, "promote")
        job = followed["job"]
        one["promote"] = {"job_id": promote_id, "status": job["status"], "error": job.get("error"),
                          "result": job.get("result"), "progress": followed["progress"]}
    one["promoted"] = bool(one["promote"] and one["promote"]["status"] == "done")
    one["tune"] = None
    if args.tune:  # what an admin does next: fit the serving pipeline's weight on the same ratings
        with Step(one, "tune", server):
            submitted = client.call("POST", "/api/admin/tune", admin=True, expect=(202,))
            followed = follow_job(client, submitted["job_id"], args.poll_seconds, args.job_timeout, "tune")
        job = followed["job"]
        tuned = job.get("result") or {}
        one["tune"] = {"status": job["status"], "error": job.get("error"), "weight": tuned.get("weight"),
                       "stored": tuned.get("stored"), "questions": tuned.get("questions"),
                       "cross_fitted": tuned.get("cross_fitted"), "baseline": tuned.get("baseline")}
        print(f"  tune: {job['status']}, weight {tuned.get('weight')} on {tuned.get('questions')} questions, "
              f"stored {tuned.get('stored')} {job.get('error') or ''}", flush=True)
    one["models_after"] = serving_summary(client.call("GET", "/api/admin/models", admin=True))
    with Step(one, "measure after", server):
        one["after"] = measure(client, data["measure"], data["files"], args.search_chunks)
    end = time.monotonic()
    one["seconds"] = round(end - started, 1)
    one["server_memory_peak"] = server.peak_between(started, end)
    one["delta"] = {k: round(one["after"][k] - record["before"][k], 4) for k in ("hit@1", "hit@5", "hit@10", "mrr@10")}
    print(f"  after: hit@5 {one['after']['hit@5']}, MRR@10 {one['after']['mrr@10']} "
          f"(ΔMRR@10 {one['delta']['mrr@10']:+.4f} since before), serving {serving_label(one['models_after'])}, "
          f"round {one['seconds']:.0f} s", flush=True)
    return one


def run_variant(args, variant: str, data: dict, corpus: Path, stamp: str) -> dict:
    record: dict = {"variant": variant, "description": DESCRIPTIONS[variant], "steps": {}}
    data_dir = Path(tempfile.mkdtemp(prefix=f"docstune-feedback-loop-{variant}-"))
    log = args.out / f"feedback_loop-{stamp}-{variant}-server.log"
    server = Server(args, data_dir / "data", log)
    record.update(data_dir=str(data_dir), server_log=str(log))
    print(f"\n== {variant}: {DESCRIPTIONS[variant]} (DATA_DIR {data_dir / 'data'}, log {log})", flush=True)
    client = None
    try:
        with Step(record, "server start", server):
            ready = server.start()
        record["ready"] = {"embeddings": ready.get("embeddings"), "llm": ready.get("llm")}
        client = Client(server.base, server.admin_token, args.request_timeout)
        with Step(record, "ingest", server):
            record["ingest"] = ingest(client, corpus, data["files"], args.upload_batch, args.poll_seconds,
                                      args.job_timeout)
        print(f"  ingested {record['ingest']['sources']} files, {record['ingest']['chunks']} chunks", flush=True)
        record["models_before"] = serving_summary(client.call("GET", "/api/admin/models", admin=True))
        with Step(record, "measure before", server):
            record["before"] = measure(client, data["measure"], data["files"], args.search_chunks)
        print(f"  before: hit@5 {record['before']['hit@5']}, MRR@10 {record['before']['mrr@10']}", flush=True)
        rated, wrong = choose_raters(variant, len(data["chat"]), args)
        waves = split_waves(len(data["chat"]), args.rounds, args.seed)
        record["rounds"] = []
        for number, wave in enumerate(waves, 1):
            if args.rounds > 1:
                print(f"  -- round {number} of {args.rounds}: {len(wave)} questions", flush=True)
            run_round(args, client, server, variant, data, wave, rated, wrong, record)
        last = record["rounds"][-1]
        # the variant's totals, as one round reported them before rounds existed
        record["ratings"] = {k: sum(r["ratings"][k] for r in record["rounds"])
                             for k in record["rounds"][0]["ratings"] if k != "answer_p50_ms"}
        for key in ("feedback_stats", "retrain", "promote", "tune", "models_after", "after"):
            record[key] = last[key]
        record["promoted"] = any(r["promoted"] for r in record["rounds"])
        b, a = record["before"], record["after"]
        record["delta"] = {k: round(a[k] - b[k], 4) for k in ("hit@1", "hit@5", "hit@10", "mrr@10")}
        print(f"  after {len(record['rounds'])} round(s): hit@5 {a['hit@5']}, MRR@10 {a['mrr@10']} "
              f"(ΔMRR@10 {record['delta']['mrr@10']:+.4f})", flush=True)
    except Exception as exc:  # noqa: BLE001 - one variant failing is reported; the others still run
        record["failed"] = f"{type(exc).__name__}: {exc}"
        print(f"  FAILED: {record['failed']}", flush=True)
    finally:
        if client is not None:
            record["http_errors"] = client.errors
            client.close()
        record["server_memory"] = server.stop() if server.process is not None else None
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return record


# -- the report ----------------------------------------------------------------------------------
def fmt(value, digits=3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value) -> str:
    return "–" if value is None else f"{value:+.3f}"


def rounds_note(result: dict) -> str:
    rounds = result.get("rounds") or 1
    return f" in {rounds} rounds (a retrain after each)" if rounds > 1 else ""


def interval_text(gate: dict | None) -> str:
    """The gate's mean difference and its interval, e.g. ``+0.012 [−0.020, +0.045]``."""
    if not gate or gate.get("interval") is None:
        return "–"
    low, high = gate["interval"]
    return f"{gate['candidate'] - gate['baseline']:+.3f} [{low:+.3f}, {high:+.3f}]"


def serving_label(models: dict | None) -> str:
    """The serving registry version, or the model's name when no version serves (the bundled model)."""
    if not models:
        return "–"
    return models.get("version") or f"{models.get('model_name') or '?'} (no version)"


def rounds_table(result: dict) -> list[str]:
    """One row per round of each variant: the frozen evaluation set, the gate, serving, half A."""
    lines = ["", ("Rounds (`--rounds`): half B asked and rated in waves; after each wave a retrain "
                  "(auto-promote) and half A measured. Evaluation questions: the frozen set the retrain "
                  "judged on (it only grows); interval: the gate's mean difference on its metric and its "
                  "bootstrap interval; wall time and the server's peak RSS (tree) over the round."), "",
             ("| variant | round | asked / rated (total rated) | evaluation questions | verdict | Δ [interval] "
              "| promoted | serving version | MRR@10 half A (Δ since before) | round s | peak RSS |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["variants"]:
        total = 0
        for one in r.get("rounds") or []:
            ratings = one.get("ratings") or {}
            total += ratings.get("rated") or 0
            retrain = one.get("retrain") or {}
            verdict = retrain.get("verdict") or (f"job {retrain['status']}" if retrain.get("status") else "–")
            after, delta = one.get("after") or {}, one.get("delta") or {}
            memory = one.get("server_memory_peak") or {}
            promote = one.get("promote")
            promoted = "yes" if one.get("promoted") else (f"no (promote {promote['status']})" if promote else "no")
            lines.append(
                f"| {r['variant']} | {one['round']} | {fmt(ratings.get('asked'))} / {fmt(ratings.get('rated'))} "
                f"({total}) | {fmt((retrain.get('evaluation_set') or {}).get('questions'))} | {verdict} | "
                f"{interval_text(retrain.get('gate'))} | {promoted} | "
                f"{serving_label(one.get('models_after'))} | {fmt(after.get('mrr@10'))} "
                f"({signed(delta.get('mrr@10'))}) | {fmt(one.get('seconds'), 0)} | "
                f"{fmt(memory.get('rss_mb'), 0)}{' MB' if memory.get('rss_mb') is not None else ''} |")
    return lines


def markdown(result: dict) -> str:
    lines = [f"# The feedback loop, end to end: {result['dataset_name']}", "",
             f"{result['when']}; `{result['command']}`", "",
             (f"Questions: {result['questions']['measure']} measured (half A), {result['questions']['chat']} asked "
              f"in the chat (half B){rounds_note(result)}, split by chunk (seed {result['seed']}); "
              f"file-level metrics over "
              f"`/api/search` with {result['search_chunks']} chunks; answers with {result['answer_chunks']} "
              f"chunks; retrain body `{json.dumps(result['retrain_request'])}`."), "",
             ("| variant | rated (likes / dislikes) | wrong | retrain verdict | promoted | weight before → after "
              "| hit@5 before → after | MRR@10 before → after | ΔMRR@10 |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["variants"]:
        ratings = r.get("ratings") or {}
        retrain = r.get("retrain") or {}
        verdict = retrain.get("verdict") or (f"job {retrain['status']}" if retrain.get("status") else "–")
        if len(r.get("rounds") or []) > 1:  # each round's verdict, in order
            verdict = ", ".join((o.get("retrain") or {}).get("verdict") or (o.get("retrain") or {}).get("status")
                                or "–" for o in r["rounds"])
        promoted_in = [o["round"] for o in r.get("rounds") or [] if o.get("promoted")]
        promoted = "no" if not promoted_in else ("yes" if len(r["rounds"]) == 1 else
                                                 f"yes (round {', '.join(map(str, promoted_in))})")
        mb, ma = r.get("models_before") or {}, r.get("models_after") or {}
        b, a, d = r.get("before") or {}, r.get("after") or {}, r.get("delta") or {}
        lines.append(
            f"| {r['variant']} ({r['description']}) | {fmt(ratings.get('rated'))} ({fmt(ratings.get('likes'))} / "
            f"{fmt(ratings.get('dislikes'))}) | {fmt(ratings.get('wrong'))} | {verdict} | "
            f"{promoted} | {fmt(mb.get('weight'), 2)} ({mb.get('weight_source') or '–'}) → "
            f"{fmt(ma.get('weight'), 2)} ({ma.get('weight_source') or '–'}) | {fmt(b.get('hit@5'))} → "
            f"{fmt(a.get('hit@5'))} | {fmt(b.get('mrr@10'))} → {fmt(a.get('mrr@10'))} | "
            f"{signed(d.get('mrr@10'))} |")
    lines += ["", "Why (the retrain's reason, or the error of a failed job):", ""]
    for r in result["variants"]:
        rounds = r.get("rounds") or [{}]
        for one in rounds:
            retrain = one.get("retrain") or {}
            failed = None if r.get("rounds") else r.get("failed")  # a round-less failure; else said below
            why = retrain.get("reason") or retrain.get("error") or failed or "–"
            fitted = retrain.get("retrieval") or {}
            if fitted.get("weight") is not None:
                why += f" (the candidate's fitted weight: {fitted['weight']:g} on {fitted.get('questions')} questions)"
            which = f"{r['variant']}, round {one['round']}" if len(rounds) > 1 else r["variant"]
            lines.append(f"* {which}: {why}")
        if r.get("failed") and r.get("rounds"):
            lines.append(f"* {r['variant']}: failed: {r['failed']}")
    lines += rounds_table(result)
    steps = ["server start", "ingest", "measure before", "chat + rate", "retrain", "promote", "tune", "measure after"]
    lines += ["", "Time of each step in seconds, summed over the rounds (1-minute load average at its first start), "
              "and the server's peak memory:",
              "", "| variant | " + " | ".join(steps) + " | total | peak RSS (tree) | peak HWM (one process) |",
              "|---|" + "---|" * (len(steps) + 3)]
    for r in result["variants"]:
        cells = []
        for s in steps:
            found = [x[s] for x in [r["steps"]] + [o["steps"] for o in r.get("rounds") or []] if s in x]
            cells.append("–" if not found else
                         f"{sum(f['seconds'] for f in found):.0f} ({found[0]['load_before'][0]:.1f})")
        total = sum(step["seconds"] for x in [r["steps"]] + [o["steps"] for o in r.get("rounds") or []]
                    for step in x.values())
        memory = r.get("server_memory") or {}
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + f" | {total:.0f} | "
                     f"{fmt(memory.get('peak_tree_rss_mb'), 0)} MB | {fmt(memory.get('peak_process_hwm_mb'), 0)} MB |")
    ingest_info = next((r["ingest"] for r in result["variants"] if r.get("ingest")), None)
    if ingest_info:
        lines += ["", (f"Ingest: {ingest_info['files']} files in {ingest_info['upload_requests']} uploads → "
                       f"{ingest_info['chunks']} chunks.")]
    errors = [(r["variant"], e) for r in result["variants"] for e in r.get("http_errors") or []]
    if errors:
        lines += ["", "Unexpected HTTP answers:", ""]
        lines += [f"* {v}: `{e['request']}` → {e['status']}: {e['response'][:300]}" for v, e in errors[:10]]
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="an IR JSON (queries, corpus, "
                        "relevant_docs); default ../shared/data/lyft_10k_ir.json")
    parser.add_argument("--variants", nargs="+", default=["all,sparse,noisy"],
                        help="of: all (every user rates), sparse (10 %% rate), noisy (10 %% wrong); "
                             "space- or comma-separated")
    parser.add_argument("--rounds", type=int, default=1,
                        help="half B asked and rated in N waves (a fixed shuffle), a retrain after each")
    parser.add_argument("--limit", type=int, default=None, help="at most N questions per half (a smoke run)")
    parser.add_argument("--seed", type=int, default=42, help="the split, the sampled questions and users")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results folder")
    parser.add_argument("--keep", action="store_true", help="keep each variant's DATA_DIR (printed)")
    parser.add_argument("--sparse-share", type=float, default=0.10, help="share of users who rate in 'sparse'")
    parser.add_argument("--noise-share", type=float, default=0.10, help="share of wrong ratings in 'noisy'")
    parser.add_argument("--search-chunks", type=int, default=20, help="chunks per /api/search (MAX_CHUNKS 20)")
    parser.add_argument("--answer-chunks", type=int, default=4, help="chunks per chat answer (the product's 4)")
    parser.add_argument("--upload-batch", type=int, default=20, help="files per upload (UPLOAD_MAX_FILES 20)")
    parser.add_argument("--threads", type=int, default=8, help="request threads of the server")
    retrain = parser.add_argument_group("retrain options (sent to POST /api/admin/retrain; default: the server's)")
    retrain.add_argument("--loss", default=None)
    retrain.add_argument("--epochs", type=int, default=None)
    retrain.add_argument("--batch-size", type=int, default=None)
    retrain.add_argument("--learning-rate", type=float, default=None)
    retrain.add_argument("--max-seq-length", type=int, default=None)
    retrain.add_argument("--hard-negatives", action=argparse.BooleanOptionalAction, default=None)
    retrain.add_argument("--retrain-seed", type=int, default=None, help="the retrain's own seed (its 'seed')")
    retrain.add_argument("--include-synthetic", action=argparse.BooleanOptionalAction, default=None)
    retrain.add_argument("--retrain-option", action="append", default=[], metavar="KEY=JSON",
                         help="any other retrain option, e.g. --retrain-option learning_rate=5e-5 (repeatable)")
    parser.add_argument("--tune", action="store_true",
                        help="after the retrain (and promote), POST /api/admin/tune: fit the serving weight too")
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--sample-seconds", type=float, default=1.0, help="server memory sampling period")
    parser.add_argument("--request-timeout", type=float, default=300)
    parser.add_argument("--ready-timeout", type=float, default=600)
    parser.add_argument("--job-timeout", type=float, default=4 * 3600, help="longest wait for a job")
    args = parser.parse_args()
    variants = [v.strip() for item in args.variants for v in item.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        parser.error(f"--variants takes {', '.join(VARIANTS)}; got {' '.join(args.variants)!r}")
    if args.rounds < 1:
        parser.error(f"--rounds must be 1 or more; got {args.rounds}")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    data = prepare(args)
    if args.rounds > len(data["chat"]):
        parser.error(f"--rounds {args.rounds} is more than the {len(data['chat'])} questions of half B")
    dataset_name = args.dataset.stem
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"{dataset_name}: {len(data['files'])} files; {len(data['measure'])} questions measured, "
          f"{len(data['chat'])} asked (halves of {data['halves']['measure_questions']} / "
          f"{data['halves']['chat_questions']}); variants {', '.join(variants)}; {args.rounds} round(s)", flush=True)
    corpus = Path(tempfile.mkdtemp(prefix="docstune-feedback-loop-corpus-"))
    started = time.monotonic()
    try:
        write_corpus(data["ir"], data["files"], corpus)
        records = [run_variant(args, v, data, corpus, stamp) for v in variants]
    finally:
        shutil.rmtree(corpus, ignore_errors=True)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
        "product": product_revision(), "dataset": str(args.dataset), "dataset_name": dataset_name, "seed": args.seed, "limit": args.limit,
        "rounds": args.rounds,
        "questions": {"measure": len(data["measure"]), "chat": len(data["chat"]), **data["halves"]},
        "search_chunks": args.search_chunks, "answer_chunks": args.answer_chunks,
        "sparse_share": args.sparse_share, "noise_share": args.noise_share, "retrain_request": retrain_body(args),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_end": load_avg()},
        "total_seconds": round(time.monotonic() - started, 1),
        "variants": records,
    }
    base = args.out / f"feedback_loop-{dataset_name}-{stamp}"
    base.with_suffix(".json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    table = markdown(result)
    base.with_suffix(".md").write_text(table, encoding="utf-8")
    print("\n" + table)
    print(f"written: {base}.json, {base}.md")
    if any(r.get("failed") for r in records):
        sys.exit(1)


if __name__ == "__main__":
    main()
