"""Benchmark: ingest throughput of a mixed folder (docx, pptx, xlsx, pdf, html) vs. plain encode.

Builds a folder of ``--docs-per-kind`` documents of each kind in a temporary directory with the
sample makers (``tests/application/ingest/samples.py``: ``make_docx``, ``make_pptx``, ``make_xlsx``;
``tests/conftest.py``: ``make_pdf``; the HTML is written by hand). Their text is real English: the
Debian FAQ's sentences (``bench/data/debian_faq_ir.json``) shuffled with a seeded RNG into sections,
paragraphs, slides, table rows and pages, under the FAQ's own headings, so no two chunks are alike.

Then, in one process and on the same chunk texts:

1. **parse + chunk only**: ``parse_file`` and the product's ``Chunker`` over every file (what the
   ``Ingestor`` does before embedding), timed (the better of 2 runs);
2. **plain encode**: ``SentenceTransformer(<bundled model>).encode(texts, batch_size=EMBEDDINGS_BATCH_SIZE,
   normalize_embeddings=True)`` — what the product's backend passes to ``encode`` — on the same chunk
   texts (checked equal to the ones the ingest stores in SQL ``chunks``);
3. **full ingest**: ``DocsTune(Settings(DATA_DIR=<tmp>)).ingest_paths([folder])`` — the real product path
   (folder source → sync → parse → chunk → embed → Qdrant Edge + SQLite), each time into a fresh data
   folder with the model loaded beforehand (its load time is not counted). Its stages are timed by
   wrapping the product's functions in this process (``parse_file``, ``Chunker.split``, the dense and
   lexical ``embed_documents``, the store's ``upsert``/``optimize``); what is left is SQL and bookkeeping;
4. **profile**: one ingest under cProfile (top 15 by cumulative and by own time). It runs first and is
   also the warm-up (the first pass over new tensor shapes and allocations is slower), so its time is
   not used; likewise one untimed plain encode warms the plain model.

Besides, **plain encode per document**: the same model and texts, but a call per document (per
``INGEST_BATCH_SIZE`` chunks of it), as the ``Ingestor`` called it before it batched across documents —
this separates the cost of how texts are batched from everything else the product does.

2 and 3 are interleaved (plain, per document, ingest, …, plain; ``--repeats`` ingests) and their medians used:
the machine may be shared, and another process's load moves a single run by up to 2×. Both wall time
and this process's CPU time (all threads) are reported.

Reported: chunks/s of full ingest, parse+chunk only and plain encode, and ``ratio = ingest / plain
encode`` (the goal: >= 0.8, parsing must not be the bottleneck).

The default folder is 12 documents of each kind (60 documents, about 230 chunks; about 3 minutes on
2 shared CPU cores); ``--docs-per-kind 40`` is the 200-document folder (about 8 minutes there).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_formats.py
    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_formats.py --threads 1   # steadier on a busy machine
    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_formats.py --docs-per-kind 40 --repeats 3
    HF_HUB_OFFLINE=1 .venv/bin/python bench/ingest_formats.py --docs-per-kind 4 --repeats 1 --no-profile  # smoke
    # writes bench/results/ingest_formats-<date>-<time>.json (and prints the tables)
"""
from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

KINDS = ("docx", "pptx", "xlsx", "pdf", "html")
FAQ = ROOT / "bench" / "data" / "debian_faq_ir.json"
TARGET_RATIO = 0.8
TINY = 8  # a chunk of at most this many tokens says next to nothing (a heading alone)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the mixed folder -----------------------------------------------------------------------------
class Text:
    """Seeded real sentences and headings (the Debian FAQ), drawn without repeats until all are used."""

    def __init__(self, seed: int):
        data = json.loads(FAQ.read_text(encoding="utf-8"))
        self.sentences = sorted({s for text in data["corpus"].values()
                                 for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text) if 6 <= len(s.split()) <= 45})
        self.headings = sorted(set(data["queries"].values()))
        self.rng = random.Random(seed)
        self._pool: list[str] = []

    def sentence(self) -> str:
        if not self._pool:
            self._pool = list(self.sentences)
            self.rng.shuffle(self._pool)
        return self._pool.pop()

    def paragraph(self, low: int = 3, high: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def heading(self) -> str:
        return self.rng.choice(self.headings)


def make_folder(folder: Path, per_kind: int, seed: int) -> dict[str, int]:
    """``per_kind`` documents of each kind in ``folder``; returns bytes written per kind."""
    from tests.application.ingest.samples import Bullets, Table, make_docx, make_pptx, make_xlsx
    from tests.conftest import make_pdf

    text = Text(seed)
    rng = text.rng
    sizes: dict[str, int] = defaultdict(int)
    for number in range(per_kind):
        # Word: a title, 2-3 sections of 1-2 paragraphs, the first with a bulleted list, the second a small table
        sections = []
        for s in range(rng.randint(2, 3)):
            blocks: list = [text.paragraph(2, 4) for _ in range(rng.randint(1, 2))]
            if s == 0:
                blocks.append(Bullets([text.sentence() for _ in range(3)]))
            if s == 1:
                blocks.append(Table([["Package", "Version", "Note"],
                                     *[[f"pkg-{rng.randint(1, 999)}", f"{rng.randint(1, 12)}.{rng.randint(0, 9)}",
                                        text.sentence()] for _ in range(3)]]))
            sections.append((text.heading(), blocks))
        path = make_docx(folder / f"handbook-{number:03d}.docx", title=f"Handbook {number}: {text.heading()}",
                         sections=sections)
        sizes["docx"] += path.stat().st_size
        # PowerPoint: 4 slides of 3 lines and speaker notes
        slides = [(text.heading(), [text.sentence() for _ in range(3)], text.sentence()) for _ in range(4)]
        path = make_pptx(folder / f"deck-{number:03d}.pptx", slides, title=f"Deck {number}")
        sizes["pptx"] += path.stat().st_size
        # Excel: a ticket log of 15 rows with a free-text summary column, and a small second sheet
        rows = [["Ticket", "Component", "Status", "Summary"]]
        rows += [[1000 * number + r, rng.choice(["apt", "dpkg", "kernel", "installer", "mirrors", "docs"]),
                  rng.choice(["open", "closed", "waiting"]), text.sentence()] for r in range(15)]
        owners = [["Component", "Owner", "Notes"]] + [[c, f"team-{rng.randint(1, 20)}", text.sentence()]
                                                        for c in ("apt", "dpkg", "kernel")]
        path = make_xlsx(folder / f"tickets-{number:03d}.xlsx", {"Tickets": rows, "Owners": owners})
        sizes["xlsx"] += path.stat().st_size
        # PDF: 2 pages of one long line each (make_pdf's one line of Helvetica per page)
        path = folder / f"report-{number:03d}.pdf"
        path.write_bytes(make_pdf([text.paragraph(4, 7) for _ in range(2)]))
        sizes["pdf"] += path.stat().st_size
        # HTML: a page with a title, navigation (dropped by the parser), 3 sections, a list
        parts = [f"<!doctype html><html><head><title>Guide {number}: {_html(text.heading())}</title></head><body>",
                 "<nav><a href='/'>Home</a> <a href='/faq'>FAQ</a></nav>", f"<h1>Guide {number}</h1>"]
        for s in range(3):
            parts.append(f"<h2>{_html(text.heading())}</h2><p>{_html(text.paragraph(2, 4))}</p>"
                         f"<p>{_html(text.paragraph(1, 3))}</p>")
            if s == 1:
                parts.append("<ul>" + "".join(f"<li>{_html(text.sentence())}</li>" for _ in range(3)) + "</ul>")
        parts.append("<footer>Generated for a benchmark</footer></body></html>")
        path = folder / f"guide-{number:03d}.html"
        path.write_text("".join(parts), encoding="utf-8")
        sizes["html"] += path.stat().st_size
    return dict(sizes)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- stage timers: the product's functions wrapped in this process ----------------------------------
class StageTimer:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter = Counter()
        self._undo: list = []

    def wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
                self.calls[stage] += 1

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


@contextmanager
def stage_timers():
    import application.ingest.pipeline as pipeline
    from application.ingest.chunking import Chunker
    from application.vectorstore.edge import EdgeVectorStore
    from plugins.lexical import LexicalEncoder
    from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings

    timer = StageTimer()
    timer.wrap(pipeline, "parse_file", "parse (parse_file)")
    timer.wrap(Chunker, "split", "chunk (Chunker.split)")
    timer.wrap(SentenceTransformerEmbeddings, "embed_documents", "dense embed (embed_documents)")
    timer.wrap(LexicalEncoder, "embed_documents", "lexical BM25 vectors")
    timer.wrap(EdgeVectorStore, "upsert", "Qdrant Edge upsert")
    timer.wrap(EdgeVectorStore, "optimize", "Qdrant Edge optimize")
    try:
        yield timer
    finally:
        timer.restore()


# -- the measurements ---------------------------------------------------------------------------------
def services_for(data_dir: Path):
    from application.container import DocsTune
    from application.settings import Settings

    return DocsTune(Settings(DATA_DIR=str(data_dir)))


def parse_and_chunk(services, folder: Path) -> dict:
    """parse_file + Chunker.split over every file, as the Ingestor does: the chunk texts (all, and per
    document), chunks and seconds per kind, and the chunks of at most TINY tokens per kind."""
    from application.ingest.chunking import Chunker
    from application.ingest.parsers import parse_file
    from application.ingest.pipeline import discover

    settings = services.settings
    chunker = Chunker(services.models.configured(), settings.chunk_tokens, settings.chunk_overlap_tokens)
    files, _ = discover([folder])
    limits = settings.parse_limits()
    per_kind: Counter = Counter()
    seconds: dict[str, float] = defaultdict(float)
    all_drafts = []
    for path in files:
        kind = path.suffix.lstrip(".")
        started = time.perf_counter()
        drafts = chunker.split(parse_file(path, limits))
        seconds[kind] += time.perf_counter() - started
        all_drafts.append((kind, drafts))
        per_kind[kind] += len(drafts)
    tiny: dict[str, list[str]] = defaultdict(list)
    for kind, drafts in all_drafts:
        tiny[kind].extend(d.text for d in drafts if d.token_count <= TINY)
    return {"texts": [d.text for _, drafts in all_drafts for d in drafts],
            "documents": [[d.text for d in drafts] for _, drafts in all_drafts],
            "chunks_per_kind": dict(per_kind), "seconds_per_kind": {k: round(v, 3) for k, v in seconds.items()},
            "tiny": dict(tiny)}


@contextmanager
def clock(into: dict):
    """Wall time and this process's CPU time (all its threads): the machine may be shared, and other
    processes' load stretches wall time much more than the CPU time the work itself takes."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield into
    into["wall"] = time.perf_counter() - wall
    into["cpu"] = time.process_time() - cpu


def plain_encode(model, texts: list[str], batch_size: int) -> dict:
    timing: dict = {}
    with clock(timing):
        model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                     show_progress_bar=False)
    return timing


def plain_encode_per_document(model, documents: list[list[str]], batch_size: int, ingest_batch: int) -> dict:
    """The same texts encoded the way the Ingestor called the model before it batched across documents: a
    call per document (per
    INGEST_BATCH_SIZE chunks of it), not one call over all texts sorted by length."""
    timing: dict = {}
    with clock(timing):
        for texts in documents:
            for start in range(0, len(texts), ingest_batch):
                model.encode(texts[start:start + ingest_batch], batch_size=batch_size, normalize_embeddings=True,
                             convert_to_numpy=True, show_progress_bar=False)
    return timing


def chunk_texts(services) -> list[str]:
    from sqlalchemy import select

    from application.db.models import Chunk

    with services.db.session() as session:
        return list(session.execute(select(Chunk.text).order_by(Chunk.source_id, Chunk.position)).scalars())


def profile_lines(profile: cProfile.Profile, sort: str, top: int = 15) -> list[str]:
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    stats.strip_dirs().sort_stats(sort).print_stats(top)
    lines = stream.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [line.rstrip() for line in lines[start:] if line.strip()]


def rate(chunks: int, seconds: float) -> float:
    return round(chunks / seconds, 2) if seconds > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs-per-kind", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed ingests (each into a fresh data folder), interleaved with "
                             "repeats + 1 plain encodes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-profile", action="store_true", help="run the warm-up ingest without cProfile")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (documents, data dirs)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads for both the product and the plain model (default: torch's, "
                             "one per core); 1 keeps a shared machine's load from stalling the threads' sync points")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sentence_transformers import SentenceTransformer

    from plugins.sentence_transformers_backend import bundled_model_path

    work = Path(tempfile.mkdtemp(prefix="ingest-formats-"))
    folder = work / "mixed"
    folder.mkdir()
    started = time.perf_counter()
    sizes = make_folder(folder, args.docs_per_kind, args.seed)
    files = sorted(folder.iterdir())
    log(f"{len(files)} documents ({sum(sizes.values()) / 1e6:.1f} MB) written in {time.perf_counter() - started:.0f} s "
        f"to {folder}")

    def fresh_services(name: str):
        services = services_for(work / name)
        timing: dict = {}
        with clock(timing):  # the product's model, loaded before any clock starts
            services.models.configured().embed_documents(["warm up"])
        return services, timing["wall"]

    services, product_load = fresh_services("data-parse")
    settings = services.settings
    batch_size = settings.embeddings_batch_size

    # 1. parse + chunk only (twice; the better run)
    parse_runs = []
    for _ in range(2):
        timing: dict = {}
        with clock(timing):
            parsed = parse_and_chunk(services, folder)
        timing["per_kind"] = parsed["seconds_per_kind"]
        parse_runs.append(timing)
    parsed_texts, per_kind, tiny = parsed["texts"], parsed["chunks_per_kind"], parsed["tiny"]
    parse_timing = min(parse_runs, key=lambda t: t["wall"])
    log(f"parse+chunk: {len(parsed_texts)} chunks in {parse_timing['wall']:.1f} s")

    # the plain model, warmed on every text once (untimed)
    started = time.perf_counter()
    model = SentenceTransformer(bundled_model_path(), local_files_only=True)
    plain_load = time.perf_counter() - started
    warm_plain = plain_encode(model, parsed_texts, batch_size)

    # 4 (first, as the warm-up of the ingest path: the first pass over new shapes and allocations is slower).
    # The ingest under cProfile, into its own data folder; profiling slows Python code, so its time is not used.
    profiled_services, _ = fresh_services("data-profiled")
    profile = cProfile.Profile()
    timing = {}
    with clock(timing):
        if not args.no_profile:
            profile.enable()
        profiled_report = profiled_services.documents.ingest_paths([folder])
        profile.disable()
    profile_result = {"seconds": round(timing["wall"], 2), "chunks": profiled_report.chunks,
                      "profiled": not args.no_profile}
    if not args.no_profile:
        profile_result.update(top15_cumulative=profile_lines(profile, "cumulative"),
                              top15_own_time=profile_lines(profile, "tottime"))
    log(f"warm-up ingest{'' if args.no_profile else ' under cProfile'}: {timing['wall']:.1f} s")

    # 2./3. plain encode and the full ingest, interleaved: plain, ingest, plain, ingest, …, plain
    plain_runs, ingest_runs, stage_runs, per_doc_runs = [], [], [], []
    texts: list[str] = []
    report = None
    stage_calls: dict = {}
    for repeat in range(args.repeats):
        plain_runs.append(plain_encode(model, parsed_texts, batch_size))
        log(f"plain encode: {plain_runs[-1]['wall']:.1f} s")
        per_doc_runs.append(plain_encode_per_document(model, parsed["documents"], batch_size,
                                                      settings.ingest_batch_size))
        log(f"plain encode, a call per document: {per_doc_runs[-1]['wall']:.1f} s")
        ingest_services, _ = fresh_services(f"data-{repeat}")
        timing = {}
        with stage_timers() as timer, clock(timing):
            report = ingest_services.documents.ingest_paths([folder])
        ingest_runs.append(timing)
        stage_runs.append({stage: round(seconds, 3) for stage, seconds in timer.seconds.items()})
        stage_calls = dict(timer.calls)
        log(f"ingest: {report.chunks} chunks, {len(report.added)} documents, {len(report.failed)} failed "
            f"in {timing['wall']:.1f} s")
        if report.failed:
            log(f"failed: {report.failed[:5]}")
        texts = chunk_texts(ingest_services)
    plain_runs.append(plain_encode(model, parsed_texts, batch_size))
    log(f"plain encode: {plain_runs[-1]['wall']:.1f} s")
    chunks = report.chunks
    same_texts = sorted(texts) == sorted(parsed_texts)

    def median(runs, key):
        return statistics.median(run[key] for run in runs)

    ingest_wall, ingest_cpu = median(ingest_runs, "wall"), median(ingest_runs, "cpu")
    per_doc_wall, per_doc_cpu = median(per_doc_runs, "wall"), median(per_doc_runs, "cpu")
    plain_wall, plain_cpu = median(plain_runs, "wall"), median(plain_runs, "cpu")
    n_plain = len(parsed_texts)
    ratio_wall = (chunks / ingest_wall) / (n_plain / plain_wall)
    ratio_cpu = (chunks / ingest_cpu) / (n_plain / plain_cpu)
    # the stages of the median ingest run
    middle = sorted(range(len(ingest_runs)), key=lambda i: ingest_runs[i]["wall"])[(len(ingest_runs) - 1) // 2]
    stage_seconds = stage_runs[middle]
    middle_wall = ingest_runs[middle]["wall"]
    stages = {stage: {"seconds": round(seconds, 2), "calls": stage_calls.get(stage),
                      "share_of_ingest": round(seconds / middle_wall, 3)}
              for stage, seconds in sorted(stage_seconds.items(), key=lambda item: -item[1])}
    rest = middle_wall - sum(stage_seconds.values())
    stages["rest (SQL, sync bookkeeping, chunk ids, payloads)"] = {
        "seconds": round(rest, 2), "calls": None, "share_of_ingest": round(rest / middle_wall, 3)}
    dense_calls = stage_calls.get("dense embed (embed_documents)", 0)
    rounded = lambda runs: [{k: round(v, 2) for k, v in run.items()} for run in runs]  # noqa: E731
    result = {
        "command": " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "threads_set_by": "--threads" if args.threads else "torch default",
                    "python": platform.python_version(),
                    "load_average_at_end": os.getloadavg()},
        "folder": {"documents": len(files), "per_kind": args.docs_per_kind, "bytes_per_kind": sizes,
                   "chunks_per_kind": per_kind, "seed": args.seed,
                   f"chunks_of_at_most_{TINY}_tokens": {kind: {"count": len(found), "examples": sorted(set(found))[:5]}
                                                         for kind, found in tiny.items() if found}},
        "settings": {"INGEST_BATCH_SIZE": settings.ingest_batch_size, "EMBEDDINGS_BATCH_SIZE": batch_size,
                     "CHUNK_TOKENS": settings.chunk_tokens, "CHUNK_OVERLAP_TOKENS": settings.chunk_overlap_tokens,
                     "LEXICAL_TOKENIZER": settings.lexical_tokenizer},
        "chunks": chunks,
        "same_texts_in_sql_as_parse_chunk": same_texts,
        "runs": {"full_ingest": rounded(ingest_runs), "plain_encode": rounded(plain_runs),
                 "plain_encode_per_document": rounded(per_doc_runs),
                 "parse_chunk_only": [{k: (round(v, 2) if k != "per_kind" else v) for k, v in run.items()}
                                      for run in parse_runs],
                 "warm_up_plain_encode": rounded([warm_plain])[0]},
        "seconds": {"full_ingest": round(ingest_wall, 2), "parse_chunk_only": round(parse_timing["wall"], 2),
                    "plain_encode": round(plain_wall, 2), "plain_encode_per_document": round(per_doc_wall, 2),
                    "product_model_load": round(product_load, 2),
                    "plain_model_load": round(plain_load, 2)},
        "cpu_seconds": {"full_ingest": round(ingest_cpu, 2), "parse_chunk_only": round(parse_timing["cpu"], 2),
                        "plain_encode": round(plain_cpu, 2), "plain_encode_per_document": round(per_doc_cpu, 2)},
        "chunks_per_s": {"full_ingest": rate(chunks, ingest_wall),
                         "parse_chunk_only": rate(n_plain, parse_timing["wall"]),
                         "plain_encode": rate(n_plain, plain_wall),
                         "plain_encode_per_document": rate(n_plain, per_doc_wall)},
        "chunks_per_cpu_s": {"full_ingest": rate(chunks, ingest_cpu),
                             "parse_chunk_only": rate(n_plain, parse_timing["cpu"]),
                             "plain_encode": rate(n_plain, plain_cpu),
                             "plain_encode_per_document": rate(n_plain, per_doc_cpu)},
        "ratio_ingest_to_plain_encode": round(ratio_wall, 3),
        "ratio_ingest_to_plain_encode_cpu": round(ratio_cpu, 3),
        "target_ratio": TARGET_RATIO,
        "ingest_stages_median_run": stages,
        "dense_embed_calls": dense_calls,
        "mean_texts_per_dense_embed_call": round(chunks / max(1, dense_calls), 1),
        "warm_up_ingest": profile_result,
    }
    result["meets_target"] = ratio_wall >= TARGET_RATIO

    rates, cpu_rates = result["chunks_per_s"], result["chunks_per_cpu_s"]
    print(f"## Ingest throughput: {len(files)} documents ({args.docs_per_kind} each of {', '.join(KINDS)}), "
          f"{chunks} chunks\n")
    print(f"Medians of {args.repeats} ingests and {args.repeats + 1} plain encodes, interleaved; "
          f"CPU = this process's CPU time (all threads); torch threads: {torch.get_num_threads()}.\n")
    print("| stage | wall s | chunks/s | CPU s | chunks/CPU-s |\n|---|---|---|---|---|")
    print(f"| full ingest (DocumentLibrary.ingest_paths) | {ingest_wall:.1f} | {rates['full_ingest']} | {ingest_cpu:.1f} | "
          f"{cpu_rates['full_ingest']} |")
    print(f"| parse + chunk only | {parse_timing['wall']:.1f} | {rates['parse_chunk_only']} | "
          f"{parse_timing['cpu']:.1f} | "
          f"{cpu_rates['parse_chunk_only']} |")
    print(f"| plain SentenceTransformer.encode (batch {batch_size}) | {plain_wall:.1f} | {rates['plain_encode']} | "
          f"{plain_cpu:.1f} | {cpu_rates['plain_encode']} |")
    print(f"| plain encode, a call per document (how the Ingestor batched before) | {per_doc_wall:.1f} | "
          f"{rates['plain_encode_per_document']} | {per_doc_cpu:.1f} | {cpu_rates['plain_encode_per_document']} |")
    print(f"\nratio ingest / plain encode: **{ratio_wall:.3f}** wall, **{ratio_cpu:.3f}** CPU "
          f"(target >= {TARGET_RATIO})\n")
    print("| ingest stage (median run) | seconds | calls | share |\n|---|---|---|---|")
    for stage, entry in stages.items():
        print(f"| {stage} | {entry['seconds']} | {entry['calls'] if entry['calls'] is not None else ''} | "
              f"{entry['share_of_ingest']:.1%} |")
    if not args.no_profile:
        print("\ncProfile, top 15 by cumulative time:\n```\n" + "\n".join(profile_result["top15_cumulative"]) + "\n```")
        print("\ncProfile, top 15 by own time:\n```\n" + "\n".join(profile_result["top15_own_time"]) + "\n```")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"ingest_formats-{time.strftime('%Y%m%d-%H%M%S')}.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    if args.keep:
        log(f"wrote {target}; kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
        log(f"wrote {target}")


if __name__ == "__main__":
    main()
