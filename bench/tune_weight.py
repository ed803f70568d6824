"""Benchmark: what `docstune tune` gains with how many rated questions, on IR JSON data sets.

For each data set: dense alone, lexical alone and the default fusion over all questions; then,
for a number of "rated" questions drawn at random (``--sizes``), ``training.tuning.tune_fusion``
— the function the tune job calls — fitted on those questions only, and its weight reported on
**all the other** questions (the ones it never saw), averaged over ``--repeats`` draws.

    .venv/bin/python bench/tune_weight.py ../shared/data/lyft_10k_ir.json bench/data/debian_faq_ir.json
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from training.fusion import FusionSettings  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402
from training.retrieval_eval import RetrievalLegs, build_legs, evaluate_pipeline  # noqa: E402
from training.tuning import tune_fusion  # noqa: E402


def subset(legs: RetrievalLegs, qids) -> RetrievalLegs:
    keep = set(qids)
    return replace(legs, relevant={q: r for q, r in legs.relevant.items() if q in keep})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, nargs="+")
    parser.add_argument("--model", default=None, help="model folder [default: the bundled all-MiniLM-L6-v2]")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 40, 80])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    from plugins import load_embeddings
    from plugins.sentence_transformers_backend import bundled_model_path

    model = load_embeddings(args.model or bundled_model_path())
    default = FusionSettings()
    print("| data set | dense | lexical | default 0.5 | " + " | ".join(f"tuned on {n} (weight)" for n in args.sizes) + " |")
    print("|---" * (4 + len(args.sizes)) + "|")
    for path in args.ir_json:
        started = time.perf_counter()
        legs = build_legs(load_ir_json(path), dense=model, lexical="bm25-en")
        encoded = time.perf_counter() - started
        qids = legs.query_ids
        cells = [f"{evaluate_pipeline(legs, s).mean['mrr@10']:.3f}"
                 for s in (replace(default, mode="dense"), replace(default, mode="lexical"), default)]
        fit_seconds = []
        for size in args.sizes:
            scores, weights = [], []
            for seed in range(args.repeats):
                rated = random.Random(seed).sample(qids, min(size, len(qids) - 1))
                unseen = [q for q in qids if q not in set(rated)]
                t0 = time.perf_counter()
                tuned = tune_fusion(subset(legs, rated), default, min_questions=1)
                fit_seconds.append(time.perf_counter() - t0)
                weight = tuned.settings if tuned.gain >= 0 else default  # the job keeps the old weight otherwise
                scores.append(evaluate_pipeline(legs, weight, query_ids=unseen).mean["mrr@10"])
                weights.append(weight.weight)
            cells.append(f"{statistics.fmean(scores):.3f} ({statistics.fmean(weights):.2f})")
        print(f"| {path.name} ({len(qids)} q) | " + " | ".join(cells) + " |")
        print(f"<!-- {path.name}: legs encoded in {encoded:.0f} s; one tune {statistics.fmean(fit_seconds) * 1000:.0f} ms -->")


if __name__ == "__main__":
    main()
