"""Benchmark: a cross-encoder learned from the corpus, rescoring the hybrid pipeline's top candidates.

Issue 27, item 4: ship an optional rerank stage only if it gains at least +0.03 MRR@10 on both dev
sets at no more than 150 ms extra per question on this CPU. This script measures exactly that.

* The questions are split by chunk (``training.split.split_ir_by_chunk``, half, fixed seed) into a
  *rated* half — what the ratings would be — and a *measured* half that is never trained on.
* The cross-encoder starts from the bundled MiniLM's transformer (``num_labels=1``: a new, untrained
  score head) and is trained one epoch with sentence-transformers' ``CrossEncoderTrainer`` and
  ``BinaryCrossEntropyLoss`` on: the rated half's (question, relevant chunk) positives; the corpus's
  own questions, one inverse-cloze pseudo-query per chunk (``training.synthetic.InverseClozeGenerator``,
  what the label-free generator falls back to offline) with its chunk as the positive; and for each
  query, hard negatives sampled from the non-relevant chunks the serving hybrid retrieval ranks highest.
* On the measured half, corpus-wide: the default hybrid pipeline (the legs and fusion of
  ``bench/retrieval_table.py``: ``training.retrieval_eval`` + ``training.fusion.fuse`` with the
  product's default settings), the same with the cross-encoder reordering the fused top 10 / top 20,
  and a blend of the min-max normalised fused and cross-encoder scores over the top 20.
* Latency: the extra time of the rerank per question, one question at a time, its top-k pairs in
  one batch on this CPU (wall-clock median and p95, and the process's CPU time, which a shared machine
  inflates less).

Measured (docs/training.md, "A reranker learned from the corpus"): it lost MRR@10 on both sets and cost
far more than 150 ms, so the stage was left out of the product.

    .venv/bin/python bench/reranker.py ../shared/data/lyft_10k_ir.json --train-questions 150
    .venv/bin/python bench/reranker.py bench/data/debian_faq_ir.json
    .venv/bin/python bench/reranker.py bench/data/debian_faq_ir.json --limit 40     # a quick end-to-end check
    .venv/bin/python bench/reranker.py bench/data/debian_faq_ir.json --latency-only --max-length 256

Writes ``bench/results/reranker-<set>.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from plugins.lexical import DEFAULT_LEXICAL  # noqa: E402
from retrieval_table import BUNDLED, describe, product_default  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402
from training.records import IRDataset  # noqa: E402
from training.retrieval_eval import RetrievalLegs, build_legs, rank_query, ranking_metrics  # noqa: E402
from training.split import split_ir_by_chunk  # noqa: E402
from training.synthetic import InverseClozeGenerator  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# what the issue asks of a rerank stage before it may ship
REQUIRED_MRR_GAIN = 0.03
MAX_EXTRA_MS = 150.0
# the transformer's own files in the bundled folder: without modules.json (mean pooling, normalise) a
# CrossEncoder loads them as BertForSequenceClassification with a new one-logit head
TRANSFORMER_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                     "special_tokens_map.json")
REPORTED = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Queries:
    """Every question the benchmark retrieves for, in one IR data set over the whole corpus.

    Ids are prefixed by their role: ``rated:`` (trained on), ``measured:`` (never trained on) and
    ``corpus:`` (inverse-cloze pseudo-queries, trained on); ``positives`` is the text each training
    query is paired with as relevant (a rated question's relevant chunks; a pseudo-query's chunk as
    the generator returns it, its sentence mostly taken out).
    """

    ir: IRDataset
    rated: list[str]
    measured: list[str]
    corpus: list[str]
    positives: dict[str, list[str]]


def gather_queries(ir: IRDataset, *, seed: int, limit: int | None, train_questions: int | None,
                   corpus_positive: str = "context") -> Queries:
    split = split_ir_by_chunk(ir, held_out_fraction=0.5, seed=seed)
    rated_ir, measured_ir = split.train, split.held_out
    rated_ids, measured_ids = sorted(rated_ir.queries), sorted(measured_ir.queries)
    chunk_ids = list(ir.corpus)
    if limit:
        rng = random.Random(seed)
        rated_ids = sorted(rng.sample(rated_ids, min(limit, len(rated_ids))))
        measured_ids = sorted(rng.sample(measured_ids, min(limit, len(measured_ids))))
        chunk_ids = sorted(rng.sample(chunk_ids, min(limit, len(chunk_ids))))
    if train_questions:  # what training fits in on this CPU: a seeded sample of rated questions and of chunks
        rng = random.Random(seed + 1)
        rated_ids = sorted(rng.sample(rated_ids, min(train_questions, len(rated_ids))))
        chunk_ids = sorted(rng.sample(chunk_ids, min(train_questions, len(chunk_ids))))
    queries, relevant, positives = {}, {}, {}
    for qid in rated_ids:
        key = f"rated:{qid}"
        queries[key], relevant[key] = rated_ir.queries[qid], list(rated_ir.relevant_docs[qid])
        positives[key] = [ir.corpus[cid] for cid in relevant[key]]
    for qid in measured_ids:
        key = f"measured:{qid}"
        queries[key], relevant[key] = measured_ir.queries[qid], list(measured_ir.relevant_docs[qid])
    generator = InverseClozeGenerator(questions_per_chunk=1, seed=seed)
    corpus_ids = []
    for cid in chunk_ids if corpus_positive != "none" else ():
        for n, pseudo in enumerate(generator.questions_for(cid, ir.corpus[cid])):
            key = f"corpus:{cid}:{n}"
            queries[key], relevant[key] = pseudo.question, [cid]
            # "context": as the generator returns it (its sentence mostly taken out); "chunk": as it is indexed
            positives[key] = [(pseudo.context if corpus_positive == "context" else "") or ir.corpus[cid]]
            corpus_ids.append(key)
    return Queries(IRDataset(queries, dict(ir.corpus), relevant), [f"rated:{q}" for q in rated_ids],
                   [f"measured:{q}" for q in measured_ids], corpus_ids, positives)


def training_pairs(queries: Queries, legs: RetrievalLegs, fusion, *, negatives: int, depth: int,
                   seed: int) -> dict[str, list]:
    """(query, text, label) rows: each positive, and ``negatives`` hard negatives per query sampled
    from the non-relevant chunks among the hybrid pipeline's top ``depth``."""
    rng = random.Random(seed)
    rows = {"query": [], "passage": [], "label": []}

    def add(question: str, text: str, label: float) -> None:
        rows["query"].append(question)
        rows["passage"].append(text)
        rows["label"].append(label)

    for qid in queries.rated + queries.corpus:
        question = queries.ir.queries[qid]
        for text in queries.positives[qid]:
            add(question, text, 1.0)
        ranked = [hit.chunk_id for hit in rank_query(legs, qid, fusion, k=depth)]
        wrong = [cid for cid in ranked if cid not in legs.relevant[qid]]
        for cid in rng.sample(wrong, min(negatives, len(wrong))):
            add(question, queries.ir.corpus[cid], 0.0)
    return rows


def transformer_folder(scratch: Path) -> Path:
    """The bundled model's transformer files, linked into a folder a CrossEncoder loads as a classifier."""
    from plugins.sentence_transformers_backend import bundled_model_path

    source, folder = Path(bundled_model_path()), scratch / "minilm-transformer"
    folder.mkdir()
    for name in TRANSFORMER_FILES:
        os.symlink(source / name, folder / name)
    return folder


def train_cross_encoder(rows: dict[str, list], scratch: Path, args) -> tuple[object, float]:
    import torch
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments)
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    model = CrossEncoder(str(transformer_folder(scratch)), num_labels=1, max_length=args.max_length, device="cpu",
                         local_files_only=True)
    dataset = Dataset.from_dict(rows).shuffle(seed=args.seed)
    # as sentence-transformers' rerankers are trained: weigh the one positive against its negatives
    loss = BinaryCrossEntropyLoss(model, pos_weight=torch.tensor(float(max(1, args.negatives))))
    training_args = CrossEncoderTrainingArguments(
        output_dir=str(scratch / "trainer"), num_train_epochs=1, per_device_train_batch_size=args.batch_size,
        learning_rate=args.learning_rate, warmup_steps=0.1, seed=args.seed, data_seed=args.seed,
        save_strategy="no", eval_strategy="no", logging_steps=max(1, len(dataset) // args.batch_size // 5),
        report_to="none", disable_tqdm=True, use_cpu=True, dataloader_num_workers=0, dataloader_pin_memory=False)
    started = time.perf_counter()
    CrossEncoderTrainer(model=model, args=training_args, train_dataset=dataset, loss=loss).train()
    return model, time.perf_counter() - started


def minmax(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [(v - low) / (high - low) if high > low else 0.0 for v in values]


def reorder(ids: list[str], scores: list[float]) -> list[str]:
    """``ids`` by ``scores``, best first; ties keep the fused order."""
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], i))]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


@dataclass
class Latency:
    """Per top-k, the milliseconds each question's rerank took: wall clock, and the CPU time of this process
    (all its threads) — on a shared machine the wall clock includes waiting for the cores, the CPU time not."""

    wall: dict[int, list[float]]
    cpu: dict[int, list[float]]

    def add(self, k: int, timing: tuple[float, float]) -> None:
        self.wall.setdefault(k, []).append(timing[0])
        self.cpu.setdefault(k, []).append(timing[1])


def timed_scores(model, question: str, texts: list[str]) -> tuple[list[float], tuple[float, float]]:
    """The cross-encoder's scores of one question's candidates in one batch, and (wall, CPU) milliseconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    scores = model.predict([(question, text) for text in texts], batch_size=len(texts), show_progress_bar=False)
    return [float(s) for s in scores], ((time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000)


def time_reranks(model, queries: Queries, legs: RetrievalLegs, fusion, questions: int) -> Latency:
    """Only the latency (``--latency-only``): the score head's weights do not change the cost."""
    latency = Latency({}, {})
    for text in ("warm-up", "warm-up again"):
        timed_scores(model, text, [text] * 20)
    for qid in queries.measured[:questions]:
        texts = [queries.ir.corpus[hit.chunk_id] for hit in rank_query(legs, qid, fusion, k=20)]
        for k in (10, 20):
            latency.add(k, timed_scores(model, queries.ir.queries[qid], texts[:k])[1])
    return latency


def measure(model, queries: Queries, legs: RetrievalLegs, fusion, *, blend: float,
            latency_questions: int) -> tuple[dict, Latency]:
    """Per pipeline, per measured question, its metrics; and the rerank latencies per top-k."""
    pipelines = {name: {} for name in ("hybrid (default)", "hybrid → rerank top 10", "hybrid → rerank top 20",
                                       f"hybrid + rerank top 20, blend {blend:g}", "fused top 20 (ceiling)")}
    latency = Latency({}, {})
    for text in ("warm-up", "warm-up again"):  # the first calls pay for allocation, not for reranking
        timed_scores(model, text, [text] * 20)
    for n, qid in enumerate(queries.measured):
        fused = rank_query(legs, qid, fusion, k=20)
        ids, fused_scores = [hit.chunk_id for hit in fused], [hit.score for hit in fused]
        question, relevant = queries.ir.queries[qid], legs.relevant[qid]
        texts = [queries.ir.corpus[cid] for cid in ids]
        scores, elapsed = timed_scores(model, question, texts)
        latency.add(20, elapsed)
        if n < latency_questions:
            latency.add(10, timed_scores(model, question, texts[:10])[1])
        names = list(pipelines)
        pipelines[names[0]][qid] = ranking_metrics(ids, relevant)
        pipelines[names[1]][qid] = ranking_metrics(reorder(ids[:10], scores[:10]) + ids[10:], relevant)
        pipelines[names[2]][qid] = ranking_metrics(reorder(ids, scores), relevant)
        mixed = [blend * c + (1 - blend) * f for c, f in zip(minmax(scores), minmax(fused_scores))] if ids else []
        pipelines[names[3]][qid] = ranking_metrics(reorder(ids, mixed), relevant)
        # whether a relevant chunk is in the fused top 20 at all: what any rerank of it can reach
        pipelines[names[4]][qid] = {name: float(bool(relevant.intersection(ids))) for name in REPORTED}
        if (n + 1) % 50 == 0:
            log(f"  measured {n + 1}/{len(queries.measured)} questions")
    return pipelines, latency


def latency_summary(latency: Latency) -> dict:
    return {f"top {k}": {"median_ms": round(statistics.median(wall), 1), "p95_ms": round(percentile(wall, 0.95), 1),
                         "cpu_median_ms": round(statistics.median(latency.cpu[k]), 1), "questions": len(wall)}
            for k, wall in sorted(latency.wall.items()) if wall}


def summarise(pipelines: dict, latency: Latency) -> dict:
    means = {name: {metric: statistics.fmean(m[metric] for m in per_query.values()) for metric in REPORTED}
             for name, per_query in pipelines.items()}
    timing = latency_summary(latency)
    return {"metrics": {name: {k: round(v, 4) for k, v in m.items()} for name, m in means.items()},
            "latency": timing}


def verdicts(summary: dict) -> dict:
    metrics, timing = summary["metrics"], summary["latency"]
    base = metrics["hybrid (default)"]["mrr@10"]
    out = {}
    for name, values in metrics.items():
        if "rerank" not in name:
            continue
        k = "top 10" if "top 10" in name else "top 20"
        gain = values["mrr@10"] - base
        ms = timing[k]["median_ms"]
        out[name] = {"mrr_gain": round(gain, 4), "extra_ms_median": ms, "extra_ms_p95": timing[k]["p95_ms"],
                     "meets_rule": gain >= REQUIRED_MRR_GAIN and ms <= MAX_EXTRA_MS}
    return out


def table(summary: dict, verdict: dict) -> list[str]:
    base = summary["metrics"]["hybrid (default)"]["mrr@10"]
    lines = ["| pipeline | hit@1 | hit@5 | hit@10 | MRR@10 | NDCG@10 | Δ MRR@10 | extra ms (median / p95) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, m in summary["metrics"].items():
        gain = "" if name == "hybrid (default)" else f"{m['mrr@10'] - base:+.4f}"
        ms = f"{verdict[name]['extra_ms_median']:.0f} / {verdict[name]['extra_ms_p95']:.0f}" if name in verdict else ""
        if name.startswith("fused"):
            continue  # not a ranking: said below the table
        lines.append(f"| {name} | {m['accuracy@1']:.4f} | {m['accuracy@5']:.4f} | {m['accuracy@10']:.4f} | "
                     f"{m['mrr@10']:.4f} | {m['ndcg@10']:.4f} | {gain} | {ms} |")
    ceiling = summary["metrics"]["fused top 20 (ceiling)"]["accuracy@10"]
    return lines + ["", f"A relevant chunk is in the fused top 20 for {ceiling:.1%} of the questions "
                        "(the hit rate no rerank of the top 20 can pass)."]


def latency_only(queries: Queries, legs: RetrievalLegs, fusion, args, started: float) -> None:
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    scratch = Path(tempfile.mkdtemp(prefix="reranker-"))
    try:
        model = CrossEncoder(str(transformer_folder(scratch)), num_labels=1, max_length=args.max_length,
                             device="cpu", local_files_only=True)
        timing = latency_summary(time_reranks(model, queries, legs, fusion, args.latency_questions))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    threads = torch.get_num_threads()
    print(f"## Rerank latency on `{args.ir_json.name}`, max length {args.max_length}, {threads} CPU threads")
    print()
    print("| top k | questions | wall ms (median / p95) | CPU ms (median) |")
    print("|---|---|---|---|")
    for k, t in timing.items():
        print(f"| {k} | {t['questions']} | {t['median_ms']:.0f} / {t['p95_ms']:.0f} | {t['cpu_median_ms']:.0f} |")
    out = args.out or RESULTS / f"reranker-{args.ir_json.stem.removesuffix('_ir')}-latency-{args.max_length}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"data": str(args.ir_json), "max_length": args.max_length, "cpu_threads": threads,
                               "load_average": os.getloadavg(), "latency": timing}, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, help="IR JSON: {queries, corpus, relevant_docs}")
    parser.add_argument("--seed", type=int, default=42, help="the split, the pseudo-queries, the negatives, training")
    parser.add_argument("--limit", type=int, help="at most this many rated, measured and corpus questions (a quick run)")
    parser.add_argument("--train-questions", type=int,
                        help="train on at most this many rated questions and this many corpus questions")
    parser.add_argument("--corpus-positive", choices=("context", "chunk", "none"), default="context",
                        help="a corpus question's positive: its chunk without the question's sentence (as the "
                             "generator makes it), the whole chunk, or no corpus questions at all")
    parser.add_argument("--negatives", type=int, default=2, help="hard negatives per training query")
    parser.add_argument("--mine-depth", type=int, default=10, help="negatives come from the hybrid top this many")
    parser.add_argument("--max-length", type=int, default=128, help="tokens of question + chunk")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--blend", type=float, default=0.5, help="cross-encoder share of the blended score")
    parser.add_argument("--latency-questions", type=int, default=30, help="questions timed for the top-10 rerank")
    parser.add_argument("--latency-only", action="store_true",
                        help="no training: time the rerank of --latency-questions questions at --max-length")
    parser.add_argument("--out", type=Path, help="default: bench/results/reranker-<set>.json")
    args = parser.parse_args()

    import torch

    from plugins import load_embeddings

    started = time.perf_counter()
    ir = load_ir_json(args.ir_json)
    queries = gather_queries(ir, seed=args.seed, limit=args.limit, train_questions=args.train_questions,
                             corpus_positive=args.corpus_positive)
    fusion = product_default()
    log(f"{args.ir_json.name}: {len(ir.corpus)} chunks; {len(queries.rated)} rated, {len(queries.measured)} measured "
        f"and {len(queries.corpus)} corpus questions; encoding the legs ({BUNDLED} + {DEFAULT_LEXICAL})…")
    legs = build_legs(queries.ir, dense=load_embeddings(BUNDLED), lexical=DEFAULT_LEXICAL,
                      candidates=fusion.candidates)
    if args.latency_only:
        return latency_only(queries, legs, fusion, args, started)
    rows = training_pairs(queries, legs, fusion, negatives=args.negatives, depth=args.mine_depth, seed=args.seed)
    log(f"legs in {time.perf_counter() - started:.0f} s; training on {len(rows['label'])} pairs "
        f"({int(sum(rows['label']))} positive), max length {args.max_length}…")
    scratch = Path(tempfile.mkdtemp(prefix="reranker-"))
    try:
        model, train_seconds = train_cross_encoder(rows, scratch, args)
        log(f"trained in {train_seconds:.0f} s; measuring {len(queries.measured)} questions…")
        pipelines, latency = measure(model, queries, legs, fusion, blend=args.blend,
                                     latency_questions=args.latency_questions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    summary = summarise(pipelines, latency)
    verdict = verdicts(summary)
    ships = any(v["meets_rule"] for v in verdict.values())
    print(f"## Reranker learned from the corpus on `{args.ir_json.name}`: {len(queries.measured)} measured questions "
          f"(never trained on), {len(ir.corpus)} chunks")
    print()
    print(f"Hybrid: {describe(fusion)}, {fusion.candidates} candidates per leg. Cross-encoder: {BUNDLED}'s "
          f"transformer + a new score head, 1 epoch on {len(rows['label'])} pairs ({len(queries.rated)} rated + "
          f"{len(queries.corpus)} corpus questions, {args.negatives} hard negatives each), max length "
          f"{args.max_length}, trained in {train_seconds:.0f} s on {torch.get_num_threads()} CPU threads.")
    print()
    print("\n".join(table(summary, verdict)))
    print()
    print(f"Rule: ≥ {REQUIRED_MRR_GAIN:+.2f} MRR@10 at ≤ {MAX_EXTRA_MS:.0f} ms median extra per question → "
          + ("met by " + ", ".join(n for n, v in verdict.items() if v["meets_rule"]) if ships else "not met on this set"))

    out = args.out or RESULTS / f"reranker-{args.ir_json.stem.removesuffix('_ir')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "data": str(args.ir_json), "chunks": len(ir.corpus), "limit": args.limit, "seed": args.seed,
        "train_questions": args.train_questions, "corpus_positive": args.corpus_positive,
        "questions": {"rated": len(queries.rated), "measured": len(queries.measured), "corpus": len(queries.corpus)},
        "fusion": describe(fusion), "candidates": fusion.candidates, "lexical": DEFAULT_LEXICAL,
        "training": {"pairs": len(rows["label"]), "positives": int(sum(rows["label"])), "negatives": args.negatives,
                     "mine_depth": args.mine_depth, "max_length": args.max_length, "batch_size": args.batch_size,
                     "learning_rate": args.learning_rate, "epochs": 1, "seconds": round(train_seconds, 1),
                     "cpu_threads": torch.get_num_threads()},
        "blend": args.blend, **summary, "verdict": verdict,
        "rule": {"mrr_gain": REQUIRED_MRR_GAIN, "extra_ms": MAX_EXTRA_MS, "met": ships},
        "seconds": round(time.perf_counter() - started, 1),
    }
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
