"""Benchmark: base all-MiniLM-L6-v2 vs. fine-tuned, per loss, on a real IR data set.

Splits the data by chunk (80/20, fixed seed), fine-tunes on the train questions with
each loss (hard negatives mined with the base model), and evaluates base and candidate
on the held-out questions. The ``synthetic`` configuration trains only on offline
inverse-cloze queries of the train chunks and is evaluated on the real held-out questions.
Each configuration runs in its own process, so its peak memory is its own.

    .venv/bin/python bench/finetune.py                       # every configuration
    .venv/bin/python bench/finetune.py --configs mnrl --epochs 1 --out bench/results/mnrl.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CONFIGS = ("mnrl", "online_contrastive", "cosine", "synthetic")
REPORTED = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10")


def run_one(name: str, args) -> dict:
    from plugins.sentence_transformers_backend import bundled_model_path
    from training.irjson import load_ir_json
    from training.pipeline import TrainingOptions, prepare_from_ir, prepare_from_synthetic, run_training

    ir = load_ir_json(args.data)
    started = time.perf_counter()
    if name == "synthetic":
        prepared = prepare_from_synthetic(dict(ir.corpus), ir, held_out_fraction=0.2, seed=args.seed,
                                          questions_per_chunk=args.questions_per_chunk, show_progress=False)
        loss = "mnrl"
    else:
        prepared = prepare_from_ir(ir, held_out_fraction=0.2, seed=args.seed)
        loss = name
    # what `docstune train` does: the data's own defaults (synthetic: 1 epoch at 2e-5) unless given
    options = TrainingOptions(loss=loss, epochs=args.epochs, batch_size=args.batch_size,
                              learning_rate=args.learning_rate, max_seq_length=args.max_seq_length, seed=args.seed,
                              device=args.device, hard_negatives=False if args.no_hard_negatives else None)
    with tempfile.TemporaryDirectory(prefix="docstune-bench-") as work:
        outcome = run_training(prepared, base_model=bundled_model_path(), work_root=work, options=options,
                               baseline_label="base", show_progress=False)
    total = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "config": name,
        "loss": loss,
        "train_rows": outcome.finetune.train_rows,
        "data_stats": outcome.finetune.data_stats,
        "held_out_questions": len(outcome.evaluation.query_ids),
        "corpus": outcome.evaluation.corpus_size,
        "train_seconds": outcome.finetune.train_seconds,
        "total_seconds": round(total, 1),
        "peak_rss_mb": round(peak_mb),
        "base": {k: outcome.evaluation.metrics["base"][k] for k in REPORTED},
        "candidate": {k: outcome.evaluation.metrics["candidate"][k] for k in REPORTED},
        "gate": outcome.verdict.to_dict(),
        "hyper_parameters": outcome.finetune.config,
    }


def table(results: list[dict]) -> str:
    head = "| config | rows | train s | peak MB | hit@1 | hit@5 | hit@10 | MRR@10 | NDCG@10 | ΔMRR@10 | gate |"
    lines = [head, "|" + "---|" * 11]
    if results:
        b = results[0]["base"]
        lines.append(f"| base all-MiniLM-L6-v2 | – | – | – | {b['accuracy@1']:.3f} | {b['accuracy@5']:.3f} | "
                     f"{b['accuracy@10']:.3f} | {b['mrr@10']:.3f} | {b['ndcg@10']:.3f} | – | – |")
    for r in results:
        c = r["candidate"]
        lines.append(f"| {r['config']} | {r['train_rows']} | {r['train_seconds']:.0f} | {r['peak_rss_mb']} | "
                     f"{c['accuracy@1']:.3f} | {c['accuracy@5']:.3f} | {c['accuracy@10']:.3f} | {c['mrr@10']:.3f} | "
                     f"{c['ndcg@10']:.3f} | {c['mrr@10'] - r['base']['mrr@10']:+.3f} | {r['gate']['status']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO / ".." / "shared" / "data" / "lyft_10k_ir.json"))
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, from {', '.join(CONFIGS)}")
    from training.finetune import SYNTHETIC_DEFAULTS, FinetuneConfig

    parser.add_argument("--epochs", type=int, default=None,
                        help=f"default: {FinetuneConfig.epochs}, {SYNTHETIC_DEFAULTS['epochs']} for synthetic")
    parser.add_argument("--batch-size", type=int, default=FinetuneConfig.batch_size)
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="default: per loss, and for synthetic data (training.finetune)")
    parser.add_argument("--max-seq-length", type=int, default=FinetuneConfig.max_seq_length)
    parser.add_argument("--questions-per-chunk", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--device", default=None)
    parser.add_argument("--no-hard-negatives", action="store_true", help="train on (question, chunk) pairs only")
    parser.add_argument("--out", default=None, help="JSON file for the results")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # one configuration, in its own process
        print("BENCH_RESULT " + json.dumps(run_one(args.child, args)), flush=True)
        return
    results = []
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        if name not in CONFIGS:
            parser.error(f"unknown config {name!r}")
        child_argv = [a for a in (argv if argv is not None else sys.argv[1:])]
        proc = subprocess.run([sys.executable, __file__, *child_argv, "--child", name], capture_output=True, text=True)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("BENCH_RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        results.append(json.loads(lines[-1].removeprefix("BENCH_RESULT ")))
        print(f"{name}: MRR@10 {results[-1]['base']['mrr@10']:.3f} -> {results[-1]['candidate']['mrr@10']:.3f} "
              f"in {results[-1]['train_seconds']:.0f} s of training", flush=True)
    print()
    print(table(results))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
        print(f"\nResults: {args.out}")


if __name__ == "__main__":
    main()
