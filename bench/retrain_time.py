"""Benchmark: one retrain from feedback, where its time goes, and what each configuration is worth.

Simulates the chat's users on an IR JSON data set, then runs the service's own retrain code path:

1. the questions are split **by chunk** into two halves (``split_ir_by_chunk``, 0.5, ``--seed``); each
   question of the *rating* half is searched the way the service searches by default (hybrid: dense
   all-MiniLM-L6-v2 + BM25 ``bm25-en``, convex fusion, minmax, weight 0.5, 50 candidates per leg) and
   its top 5 chunks are "shown";
2. a perfect user rates every shown answer: ``like`` when any shown chunk is relevant, else
   ``dislike``; every shown source is marked ``relevant``/``irrelevant`` by the ground truth and the
   relevant ones are cited. That is written as the service's feedback JSONL;
3. one round, timed by stage: export (the ratings as ``FeedbackRecord``s in memory, as the service reads
   them from SQL; here from the simulation's JSONL), ``build_pairs_from_feedback`` once and
   ``prepare_from_feedback(resolved, chunk_texts=<whole corpus>)`` (plus the data-selection rule, if the
   config has one), then
   ``run_training(..., retrieval=FusionSettings(), lexical="bm25-en")`` as ``run_retrain`` calls it:
   hard-negative mining, fine-tuning, judging (the gate over pipelines on the feedback's own
   held-out 20 %), writing the report;
4. outside the round: the candidate's retrieval on the **other half** of the questions over the whole
   corpus — dense alone, hybrid at 0.5 and hybrid at the candidate's fitted weight.

Each configuration runs in its own process (its peak RSS is its own). Every timing records
``os.getloadavg()``, since the machine may be shared.

    .venv/bin/python bench/retrain_time.py ../shared/data/lyft_10k_ir.json --configs current
    .venv/bin/python bench/retrain_time.py bench/data/debian_faq_ir.json \\
        --configs current "loss=mnrl,epochs=1,select=hardest" --out bench/results/retrain_time-faq.json

A config is a preset name (``CONFIGS``) or ``key=value,...`` with keys ``loss``, ``epochs``, ``lr``,
``select`` (``all``: the rows ``prepare_from_feedback`` makes, as the service does; ``hardest``:
``hardest_training_set`` again with ``negatives`` per question), ``negatives``, ``mine`` (0/1), ``batch``,
``seq`` (0: the model's own maximum), ``synth`` (synthetic questions as the retrain job adds them: 0 none,
-1 every chunk outside the evaluation set, N the budget of RETRAIN_SYNTHETIC_CHUNKS) and ``pick``
(``rank``: ``choose_synthetic_chunks`` as the job does; ``hash``: the same number of chunks without the
probe, a stable pseudo-random pick).

The synthetic stage mirrors ``_add_synthetic``: probe questions (one inverse-cloze sentence per chunk),
encoded one by one and ranked against the chunks' embeddings; the service reads those from its index,
the bench encodes the corpus for them (timed on its own as ``select: corpus encode (bench only)``,
and left out of ``round_seconds``), then ``SYNTH_QUESTIONS_PER_CHUNK`` (2) inverse-cloze questions for
each chosen chunk.

    .venv/bin/python bench/retrain_time.py bench/data/debian_faq_ir.json \\
        --configs service "service,synth=-1" "service,synth=50" "service,synth=50,pick=hash"
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHOWN = 5  # chunks an answer shows (and a perfect user rates)
LEXICAL = "bm25-en"
REPORTED = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10")
# the retrain job as it is (application/jobs/handlers.py run_retrain): the feedback's default loss
# (online_contrastive: the feedback has negatives), 3 epochs, batch 16, 128 tokens, mining on, all pairs
CONFIGS = {
    "current": "loss=online_contrastive,epochs=3,select=all,mine=1",
    # the retrain job since issue 27's FEEDBACK_DEFAULTS (mnrl, 1 epoch at 5e-5 on the hardest rows), ratings only
    "service": "loss=mnrl,epochs=1,select=all,mine=1",
}
DEFAULT_SPEC = {"loss": "online_contrastive", "epochs": 3, "lr": None, "select": "all", "negatives": 1,
                "mine": 1, "batch": 16, "seq": 128, "synth": 0, "pick": "rank"}


def parse_spec(text: str) -> dict:
    spec = dict(DEFAULT_SPEC)
    head, _, rest = text.partition(",")
    if head in CONFIGS:  # a preset, then keys over it: "service,synth=50"
        text = CONFIGS[head] + ("," + rest if rest else "")
    for item in text.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in spec:
            raise SystemExit(f"config {text!r}: unknown key {key!r} (use {', '.join(spec)})")
        spec[key] = value.strip() if key in ("loss", "select", "pick") else (float(value) if key == "lr" else int(value))
    return spec


def spec_name(spec: dict) -> str:
    from training.finetune import DEFAULT_LEARNING_RATES, FEEDBACK_DEFAULTS

    lr = spec["lr"] or (FEEDBACK_DEFAULTS["learning_rate"] if spec["loss"] == FEEDBACK_DEFAULTS["loss"]
                        else DEFAULT_LEARNING_RATES[spec["loss"]])  # as PreparedData.finetune_config picks it
    name = f"{spec['loss']} {spec['epochs']}ep lr {lr:g} {spec['select']}"
    if spec["select"] == "hardest" and spec["negatives"] != 1:
        name += f"({spec['negatives']})"
    if not spec["mine"]:
        name += " no-mine"
    if spec["batch"] != 16 or spec["seq"] != 128:
        name += f" b{spec['batch']} s{spec['seq'] or 'model'}"
    if spec["synth"]:
        name += " + synth " + ("every chunk" if spec["synth"] < 0 else f"{spec['synth']} chunks by {spec['pick']}")
    return name


def load() -> tuple[float, float, float]:
    return tuple(round(x, 2) for x in os.getloadavg())


def peak_rss_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# -- simulated users (parent process) ---------------------------------------------------------
def simulate(ir_path: Path, seed: int, cache: Path) -> dict:
    """Rate the rating half's answers; cache the feedback and the base model's legs of the other half."""
    from training.finetune import load_model
    from training.fusion import FusionSettings
    from training.irjson import load_ir_json
    from training.retrieval_eval import build_legs, evaluate_pipeline, rank_query
    from training.split import split_ir_by_chunk
    from plugins.sentence_transformers_backend import bundled_model_path

    cache.mkdir(parents=True, exist_ok=True)
    meta_path = cache / "meta.json"
    if meta_path.is_file():
        return json.loads(meta_path.read_text())
    ir = load_ir_json(ir_path)
    split = split_ir_by_chunk(ir, held_out_fraction=0.5, seed=seed)
    rating, other = split.train, split.held_out
    started = time.perf_counter()
    legs = build_legs(ir, dense=load_model(bundled_model_path()), lexical=LEXICAL, dense_label="base",
                      lexical_label=LEXICAL)
    encode_seconds = time.perf_counter() - started
    serving = FusionSettings()
    voted_at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    lines, likes = [], 0
    for i, qid in enumerate(sorted(rating.queries)):
        relevant = set(rating.relevant_docs[qid])
        shown = rank_query(legs, qid, serving, k=SHOWN)
        liked = any(hit.chunk_id in relevant for hit in shown)
        likes += liked
        lines.append(json.dumps({
            "message_id": f"m{i}", "question": rating.queries[qid], "verdict": "like" if liked else "dislike",
            "voter": f"user{i % 37}", "voted_at": voted_at.isoformat(), "comment": None,
            "sources": {hit.chunk_id: "relevant" if hit.chunk_id in relevant else "irrelevant" for hit in shown},
            "retrieved": [{"chunk_id": hit.chunk_id, "text": ir.corpus[hit.chunk_id], "rank": rank,
                           "score": hit.score, "dense_score": hit.dense_score, "lexical_score": hit.lexical_score,
                           "cited": hit.chunk_id in relevant} for rank, hit in enumerate(shown, start=1)],
            "model_fingerprint": "base", "retrieval": serving.to_dict(),
        }, ensure_ascii=False))
    (cache / "feedback.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    other_q = sorted(q for q in other.queries if q in legs.relevant)
    other_legs = {"relevant": {q: sorted(legs.relevant[q]) for q in other_q},
                  "dense": {q: legs.dense[q] for q in other_q}, "lexical": {q: legs.lexical[q] for q in other_q}}
    (cache / "other_legs.json").write_text(json.dumps(other_legs))
    base_legs = legs_from(other_legs)
    base = {
        "dense": pick(evaluate_pipeline(base_legs, replace(serving, mode="dense")).mean),
        "hybrid 0.5": pick(evaluate_pipeline(base_legs, serving).mean),
        "lexical": pick(evaluate_pipeline(base_legs, replace(serving, mode="lexical")).mean),
    }
    meta = {"data": str(ir_path), "seed": seed, "corpus": len(ir.corpus), "rated_answers": len(lines),
            "liked": likes, "other_half_questions": len(other_q), "base_on_other_half": base,
            "simulation_encode_seconds": round(encode_seconds, 1)}
    meta_path.write_text(json.dumps(meta, indent=1))
    return meta


def legs_from(data: dict):
    from training.retrieval_eval import RetrievalLegs

    return RetrievalLegs({q: frozenset(v) for q, v in data["relevant"].items()},
                         dense={q: [tuple(c) for c in v] for q, v in data["dense"].items()},
                         lexical={q: [tuple(c) for c in v] for q, v in data["lexical"].items()},
                         dense_label="base", lexical_label=LEXICAL)


def pick(metrics: dict) -> dict:
    return {k: round(metrics[k], 4) for k in REPORTED}


def mining_option(run_training, mine: bool) -> dict:
    """``run_training``'s switch for hard-negative mining (``options=TrainingOptions(hard_negatives=...)``,
    or the older ``mine_hard_negatives=``)."""
    import inspect

    if "options" in inspect.signature(run_training).parameters:
        from training.pipeline import TrainingOptions

        return {"options": TrainingOptions(hard_negatives=mine), "show_progress": False}
    return {"mine_hard_negatives": mine}


BENCH_ONLY = "select: corpus encode (bench only)"


class _IndexedModel:
    """The serving model as ``encode_dense_leg`` sees it in the service: the chunks' embeddings come from
    the index (here: encoded once beforehand), each question is encoded on its own."""

    def __init__(self, model, corpus_embeddings):
        self.model, self.corpus_embeddings = model, corpus_embeddings

    def embed_documents(self, texts):
        return self.corpus_embeddings

    def embed_query(self, text):
        return self.model.encode([text], convert_to_numpy=True)[0]


def add_synthetic(prepared, corpus: dict, spec: dict, stages: "Stages") -> None:
    """``application.jobs.handlers._add_synthetic`` on a plain corpus: the chunks outside the evaluation set,
    ``spec["synth"]`` of them at most, chosen as the job chooses; inverse-cloze questions for those."""
    from training.finetune import load_model
    from training.pipeline import choose_synthetic_chunks, own_chunk_ranks, probe_questions
    from training.records import IRDataset
    from training.retrieval_eval import encode_dense_leg
    from training.synthetic import generate_synthetic_queries, synthetic_training_set
    from plugins.sentence_transformers_backend import bundled_model_path

    held = {cid for ids in prepared.held_out.relevant_docs.values() for cid in ids}
    chunks = {cid: text for cid, text in corpus.items() if cid not in held}
    budget = spec["synth"]
    selection = {"candidates": len(chunks), "budget": budget, "pick": spec["pick"]}
    if 0 < budget < len(chunks):
        ranks = {}
        if spec["pick"] == "rank":
            model = stages.timed("select: load model (the service has it)", load_model)(bundled_model_path())
            ids = list(corpus)

            def encode_corpus():
                return model.encode([corpus[c] for c in ids], batch_size=32, convert_to_numpy=True)
            embeddings = stages.timed(BENCH_ONLY, encode_corpus)()

            def probe():
                probes = probe_questions(chunks)
                ir = IRDataset(dict(probes), {c: corpus[c] for c in ids}, {c: [c] for c in probes})
                return own_chunk_ranks(encode_dense_leg(_IndexedModel(model, embeddings), ir,
                                                        query_ids=list(probes)), probes)
            ranks = stages.timed("select: probe + rank", probe)()
            selection["poorly_ranked"] = sum(1 for r in ranks.values() if r is None or r > 1)
        chosen = choose_synthetic_chunks(chunks, budget, ranks=ranks,
                                         near_rated=prepared.rated_chunks if spec["pick"] == "rank" else ())
        selection["near_rated"] = len(set(chosen) & prepared.rated_chunks)
        chunks = {cid: chunks[cid] for cid in chosen}

    def write():
        return generate_synthetic_queries(chunks, questions_per_chunk=2, show_progress=False)
    queries = stages.timed("synthetic questions (inverse cloze)", write)()
    extra = synthetic_training_set(chunks, queries)
    prepared.train.positives.extend(extra.positives)
    prepared.stats["synthetic_positives"] = len(extra.positives)
    prepared.stats["synthetic_selection"] = {**selection, "chosen": len(chunks)}


# -- one round (child process) -----------------------------------------------------------------
class Stages:
    """Wall time and load average of each stage."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self.loads: dict[str, list] = {}

    def timed(self, name, fn):
        def wrapper(*args, **kwargs):
            before = load()
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 2)
                self.loads[name] = [before, load()]
        return wrapper


def run_round(ir_path: Path, cache: Path, spec: dict, profile: Path | None) -> dict:
    import training.hard_negatives as hard_negatives
    import training.pipeline as pipeline
    from plugins.sentence_transformers_backend import bundled_model_path
    from training.feedback import build_pairs_from_feedback, hardest_training_set, read_feedback_jsonl
    from training.fusion import FusionSettings
    from training.irjson import load_ir_json
    from training.pipeline import PreparedData, prepare_from_feedback, run_training
    from training.retrieval_eval import encode_dense_leg, evaluate_pipeline

    ir = load_ir_json(ir_path)
    corpus = dict(ir.corpus)
    stages = Stages()
    serving = FusionSettings()
    steps: list[tuple[int, int, float]] = []
    loads = {"start": load()}

    with tempfile.TemporaryDirectory(prefix="docstune-retrain-time-") as work:
        round_started = time.perf_counter()

        def export():  # the service reads the rated messages from SQL as records (here: the simulation's file)
            return read_feedback_jsonl(cache / "feedback.jsonl")
        records = stages.timed("export", export)()

        def prepare() -> PreparedData:
            resolved = build_pairs_from_feedback(records, corpus)  # resolved once, as the retrain job does
            prepared = prepare_from_feedback(resolved, chunk_texts=corpus)
            if spec["select"] == "hardest":  # the questions prepare_from_feedback kept for training, fewer rows
                data = prepared.train
                questions = {p.query for p in data.pairs} | {t.query for t in data.triplets} | {q for q, _ in data.positives}
                prepared.train = hardest_training_set(resolved.subset(questions), spec["negatives"])
                prepared.stats.update(prepared.train.stats())
            return prepared
        prepared = stages.timed("prepare", prepare)()
        if spec["synth"]:
            add_synthetic(prepared, corpus, spec, stages)

        # the stages inside run_training, timed where the pipeline calls them
        pipeline.finetune = stages.timed("finetune", pipeline.finetune)
        pipeline.judge_retrieval_pipelines = stages.timed("judge", pipeline.judge_retrieval_pipelines)
        pipeline.write_evaluation_outputs = stages.timed("write report", pipeline.write_evaluation_outputs)
        hard_negatives.add_hard_negatives = stages.timed("mine (mining only)", hard_negatives.add_hard_negatives)
        config = prepared.finetune_config(loss=spec["loss"], epochs=spec["epochs"], batch_size=spec["batch"],
                                          learning_rate=spec["lr"], max_seq_length=spec["seq"] or None,
                                          show_progress=False)
        profiler = cProfile.Profile() if profile else None

        def on_step(step, total):
            steps.append((step, total, time.perf_counter()))
            if step % 20 == 0 or step == total:  # a long run shows it is alive
                print(f"  step {step}/{total} at {time.perf_counter() - round_started:.0f} s, load {load()}",
                      file=sys.stderr, flush=True)

        def training():
            if profiler:
                profiler.enable()
            try:
                return run_training(prepared, base_model=bundled_model_path(), work_root=work, registry=None,
                                    config=config, baseline_label="active", retrieval=serving, lexical=LEXICAL,
                                    progress=on_step,
                                    **mining_option(run_training, bool(spec["mine"])))
            finally:
                if profiler:
                    profiler.disable()
        outcome = stages.timed("run_training", training)()
        round_seconds = time.perf_counter() - round_started - stages.seconds.get(BENCH_ONLY, 0.0)
        round_rss = peak_rss_mb()
        loads["end of round"] = load()
        s = stages.seconds
        s["mine (load + mine)"] = round(s["run_training"] - s["finetune"] - s["judge"] - s.get("write report", 0), 2)
        s["train (trainer.train)"] = outcome.finetune.train_seconds
        s["finetune setup + save"] = round(s["finetune"] - outcome.finetune.train_seconds, 2)

        # outside the round: the other half of the questions, over the whole corpus
        started = time.perf_counter()
        from training.finetune import load_model

        other = json.loads((cache / "other_legs.json").read_text())
        base_legs = legs_from(other)
        other_ir = replace(ir, queries={q: ir.queries[q] for q in base_legs.relevant},
                           relevant_docs={q: list(v) for q, v in base_legs.relevant.items()})
        candidate = load_model(outcome.finetune.path)
        legs = base_legs.with_dense(encode_dense_leg(candidate, other_ir, query_ids=base_legs.query_ids), "candidate")
        fitted = (outcome.retrieval or {}).get("weight", serving.weight)
        runs = {"dense": evaluate_pipeline(legs, replace(serving, mode="dense")),
                "hybrid 0.5": evaluate_pipeline(legs, serving),
                f"hybrid fitted {fitted:g}": evaluate_pipeline(legs, replace(serving, weight=fitted))}
        quality = {name: pick(run.mean) for name, run in runs.items()}
        # the hybrid at every weight: candidates fitted to different weights compare at the same one too
        curve = {f"{w:g}": round(evaluate_pipeline(legs, replace(serving, weight=w)).mean["mrr@10"], 4)
                 for w in (0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8)}
        # per question, for paired comparisons between configurations (won / lost questions)
        reciprocal_ranks = {name: {q: round(m["mrr@10"], 4) for q, m in runs[name].per_query.items()}
                            for name in ("dense", "hybrid 0.5")}
        other_seconds = time.perf_counter() - started

    first = next((at for step, _, at in steps if step > 0), None)  # step 0: run_training's "the trainer starts"
    trained = [s for s in steps if s[0] > 0]
    per_step = [(b[2] - a[2]) for a, b in zip(trained, trained[1:])]
    per_step.sort()
    result = {
        "config": spec_name(spec), "spec": spec, "data": str(ir_path), "corpus": len(corpus),
        "synthetic": {k: v for k, v in prepared.stats.items() if k.startswith("synthetic")},
        "train_rows": outcome.finetune.train_rows, "data_stats": outcome.finetune.data_stats,
        "steps": steps[-1][1] if steps else None,
        "seconds_per_step_median": round(per_step[len(per_step) // 2], 3) if per_step else None,
        "seconds_to_first_step_end": round(first - round_started, 1) if first else None,
        "stage_seconds": stages.seconds, "stage_loadavg": stages.loads,
        "train_seconds": outcome.finetune.train_seconds, "round_seconds": round(round_seconds, 1),
        "peak_rss_mb_round": round_rss, "peak_rss_mb": peak_rss_mb(), "loadavg": loads,
        "gate": {"verdict": outcome.verdict.status, "reason": outcome.verdict.reason,
                 "held_out_questions": outcome.judged and len(outcome.evaluation.query_ids),
                 "baseline": pick(outcome.judged["baseline"]), "candidate": pick(outcome.judged["candidate"])},
        "fitted_weight": fitted, "other_half": quality, "other_half_reciprocal_ranks": reciprocal_ranks,
        "other_half_hybrid_mrr_by_weight": curve, "other_half_eval_seconds": round(other_seconds, 1),
        "hyper_parameters": outcome.finetune.config,
    }
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        profile.write_text(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        profile.with_suffix(".tottime.txt").write_text(out.getvalue())
        result["profile"] = str(profile)
    return result


# -- the table ---------------------------------------------------------------------------------
def table(meta: dict, results: list[dict]) -> str:
    lines = ["| config | rows | steps | s/step | train s | round s | peak RSS | dense MRR@10 | dense hit@5 | "
             "hybrid 0.5 MRR@10 | hybrid fitted MRR@10 (w) | gate |", "|" + "---|" * 12]
    b = meta["base_on_other_half"]
    lines.append(f"| base all-MiniLM-L6-v2 | – | – | – | – | – | – | {b['dense']['mrr@10']:.3f} | "
                 f"{b['dense']['accuracy@5']:.3f} | {b['hybrid 0.5']['mrr@10']:.3f} | – | – |")
    for r in results:
        q = r["other_half"]
        fitted_key = next(k for k in q if k.startswith("hybrid fitted"))
        lines.append(
            f"| {r['config']} | {r['train_rows']} | {r['steps']} | {r['seconds_per_step_median']} | "
            f"{r['train_seconds']:.0f} | {r['round_seconds']:.0f} | {r['peak_rss_mb'] / 1024:.1f} GB | "
            f"{q['dense']['mrr@10']:.3f} | {q['dense']['accuracy@5']:.3f} | {q['hybrid 0.5']['mrr@10']:.3f} | "
            f"{q[fitted_key]['mrr@10']:.3f} ({r['fitted_weight']:g}) | {r['gate']['verdict']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="IR JSON data set")
    parser.add_argument("--configs", nargs="+", default=["current"], help="preset names or key=value,... specs")
    parser.add_argument("--seed", type=int, default=42, help="seed of the rating/other-half split")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docstune-retrain-time")
    parser.add_argument("--profile", action="store_true", help="cProfile the round (prints the top functions)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the results")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cache = args.cache / f"{args.data.stem}-seed{args.seed}"

    if args.child:
        spec = parse_spec(args.child)
        profile = (cache / f"profile-{spec_name(spec).replace(' ', '_')}.txt") if args.profile else None
        print("BENCH_RESULT " + json.dumps(run_round(args.data, cache, spec, profile)), flush=True)
        return
    meta = simulate(args.data, args.seed, cache)
    print(f"{args.data.name}: {meta['rated_answers']} rated answers ({meta['liked']} liked), "
          f"{meta['other_half_questions']} other-half questions, corpus {meta['corpus']}", flush=True)
    results = []
    for text in args.configs:
        spec = parse_spec(text)
        command = [sys.executable, __file__, str(args.data), "--seed", str(args.seed), "--cache", str(args.cache),
                   "--child", text] + (["--profile"] if args.profile else [])
        log = cache / "child-stderr.log"  # the child's progress lines and warnings: tail -f it
        with log.open("a") as errors:
            errors.write(f"\n== {spec_name(spec)} {datetime.now().isoformat(timespec='seconds')}\n")
            errors.flush()
            proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        proc.stderr = log.read_text()[-3000:]
        found = [l for l in proc.stdout.splitlines() if l.startswith("BENCH_RESULT ")]
        if proc.returncode != 0 or not found:
            print(f"{spec_name(spec)}: failed\n{proc.stderr[-3000:]}", file=sys.stderr, flush=True)
            continue
        results.append(json.loads(found[-1].removeprefix("BENCH_RESULT ")))
        r = results[-1]
        print(f"{r['config']}: {r['train_rows']} rows, train {r['train_seconds']:.0f} s, round "
              f"{r['round_seconds']:.0f} s, dense MRR@10 {r['other_half']['dense']['mrr@10']:.3f}, "
              f"load {r['loadavg']}", flush=True)
        if args.out:  # after every config: a long run keeps what it measured
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    print()
    print(table(meta, results))


if __name__ == "__main__":
    main()
