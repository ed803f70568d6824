"""Benchmark: dense, lexical and fused retrieval on an IR JSON data set, as markdown tables.

Rows: dense (the bundled model, and each ``--model``), lexical per tokenizer, and per (model,
tokenizer) every fusion — rrf (k=60), wrrf, dbsf, convex max and convex minmax at dense weights
0.1…0.9 plus the fitted weight — and the per-query adaptive fusion
(``training.retrieval_eval.AdaptiveFusion``). Columns hit@1/@5/@10, MRR@10, NDCG@10 and the
MRR@10 gain over dense alone. The legs are encoded once; every fusion after that is cheap.

A weight fitted on the queries it is evaluated on flatters itself; ``--split`` fits on a seeded
random half of the queries and reports on the other half (``--repeats N``: the mean over N seeds).

    .venv/bin/python bench/retrieval_table.py ../shared/data/lyft_10k_ir.json
    .venv/bin/python bench/retrieval_table.py bench/data/debian_faq_ir.json --split --repeats 5
    .venv/bin/python bench/retrieval_table.py data.json --model /models/v3/model --tokenizer bm25-en
    .venv/bin/python bench/retrieval_table.py data.json --backend torch --backend onnx-int8 --tokenizer bm25-en
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from plugins.lexical import LEXICAL_TOKENIZERS  # noqa: E402
from plugins.onnx_runtime import BACKENDS  # noqa: E402
from training.fusion import FusionSettings  # noqa: E402
from training.irjson import load_ir_json  # noqa: E402
from training.retrieval_eval import (  # noqa: E402
    DEFAULT_CANDIDATES, METRIC_NAMES, AdaptiveFusion, PipelineResult, RetrievalLegs, build_legs,
    encode_dense_leg, encode_lexical_leg, evaluate_pipeline, fit_fusion_weight, fit_weight, split_queries,
)

BUNDLED = "all-MiniLM-L6-v2"
TABLE_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(1, 10))
# (label, method, normalise) of every weighted fusion in the table
WEIGHTED_FUSIONS = (("wrrf", "wrrf", "max"), ("dbsf", "dbsf", "max"),
                    ("convex max", "convex", "max"), ("convex minmax", "convex", "minmax"))


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def product_default() -> FusionSettings:
    """The service's hybrid settings with no fitted weight (application/settings.py's defaults)."""
    from application.settings import DEFAULT_FUSION_WEIGHT, Settings

    fields = Settings.model_fields
    return FusionSettings(mode="hybrid", method=fields["fusion_method"].default, weight=DEFAULT_FUSION_WEIGHT,
                          normalise=fields["fusion_normalise"].default, rrf_k=fields["fusion_rrf_k"].default,
                          candidates=fields["fusion_candidates"].default)


def row(label: str, result: PipelineResult, dense_mrr: float | None) -> str:
    mean = result.mean
    cells = [f"{mean[name]:.4f}" for name in METRIC_NAMES]
    gain = "" if dense_mrr is None else f"{mean['mrr@10'] - dense_mrr:+.4f}"
    return f"| {label} | " + " | ".join(cells) + f" | {gain} |"


def header(title: str) -> list[str]:
    return ["", f"### {title}", "", "| pipeline | " + " | ".join(METRIC_NAMES) + " | Δ MRR@10 vs dense |",
            "|---" * (len(METRIC_NAMES) + 2) + "|"]


def mean_result(label: str, results: list[PipelineResult]) -> PipelineResult:
    """Repeats over several splits: one 'query' per repeat holding that split's means."""
    return PipelineResult(label, {str(i): r.mean for i, r in enumerate(results)})


def full_tables(legs_by_model: dict[str, dict], lexical_by_tok: dict[str, dict], relevant, default) -> list[str]:
    lines = header("single legs")
    first = next(iter(legs_by_model))
    dense_mrr = {}
    for model, dense in legs_by_model.items():
        legs = RetrievalLegs(relevant, dense=dense, dense_label=model)
        result = evaluate_pipeline(legs, FusionSettings(mode="dense"))
        dense_mrr[model] = result.mean["mrr@10"]
        lines.append(row(f"dense {model}", result, dense_mrr[first]))
    for tok, lexical in lexical_by_tok.items():
        legs = RetrievalLegs(relevant, lexical=lexical, lexical_label=tok)
        lines.append(row(f"lexical {tok}", evaluate_pipeline(legs, FusionSettings(mode="lexical")), dense_mrr[first]))
    for model, dense in legs_by_model.items():
        for tok, lexical in lexical_by_tok.items():
            legs = RetrievalLegs(relevant, dense=dense, lexical=lexical, dense_label=model, lexical_label=tok)
            lines += header(f"hybrid: dense {model} + lexical {tok} (weight = dense share)")
            base = dense_mrr[model]
            lines.append(row("rrf k=60", evaluate_pipeline(legs, FusionSettings(method="rrf", rrf_k=60)), base))
            lines.append(row(f"product default ({describe(default)})", evaluate_pipeline(legs, default), base))
            for label, method, normalise in WEIGHTED_FUSIONS:
                for weight in TABLE_WEIGHTS:
                    settings = FusionSettings(method=method, normalise=normalise, weight=weight)
                    lines.append(row(f"{label} w={weight:g}", evaluate_pipeline(legs, settings), base))
                fitted = fit_fusion_weight(legs, method, normalise=normalise, prior=default.weight)
                lines.append(row(f"**{label} fitted w={fitted.weight:g}**",
                                 evaluate_pipeline(legs, fitted.settings), base))
            adaptive = AdaptiveFusion(prior=default.weight)
            lines.append(row(f"{adaptive.label} (per query, no labels)", evaluate_pipeline(legs, adaptive), base))
            fitted = fit_weight(legs, lambda w: AdaptiveFusion(prior=w), prior=default.weight)
            lines.append(row(f"adaptive, fitted prior {fitted.weight:g}", evaluate_pipeline(legs, fitted.fusion), base))
    return lines


def split_tables(legs_by_model, lexical_by_tok, relevant, default, seed: int, repeats: int) -> list[str]:
    splits = [split_queries(sorted(relevant), seed=seed + i) for i in range(repeats)]
    held_out = len(splits[0][1])
    lines = [f"Held-out: weights fitted on {len(splits[0][0])} queries, metrics on the other {held_out}"
             + (f", mean over {repeats} seeded splits (seeds {seed}…{seed + repeats - 1})" if repeats > 1
                else f" (seed {seed})") + "."]

    def held(legs, fusion_for_split):
        """Mean over the splits of the held-out result of the fusion chosen on the fit half."""
        results, chosen = [], []
        for fit_ids, test_ids in splits:
            fusion, note = fusion_for_split(fit_ids)
            chosen.append(note)
            results.append(evaluate_pipeline(legs, fusion, query_ids=test_ids))
        return mean_result("", results), chosen

    lines += header("single legs (held-out half)")
    first = next(iter(legs_by_model))
    dense_mrr = {}
    for model, dense in legs_by_model.items():
        legs = RetrievalLegs(relevant, dense=dense)
        result, _ = held(legs, lambda ids: (FusionSettings(mode="dense"), ""))
        dense_mrr[model] = result.mean["mrr@10"]
        lines.append(row(f"dense {model}", result, dense_mrr[first]))
    for tok, lexical in lexical_by_tok.items():
        legs = RetrievalLegs(relevant, lexical=lexical)
        result, _ = held(legs, lambda ids: (FusionSettings(mode="lexical"), ""))
        lines.append(row(f"lexical {tok}", result, dense_mrr[first]))
    for model, dense in legs_by_model.items():
        for tok, lexical in lexical_by_tok.items():
            legs = RetrievalLegs(relevant, dense=dense, lexical=lexical)
            base = dense_mrr[model]
            lines += header(f"hybrid (held-out half): dense {model} + lexical {tok}")
            result, _ = held(legs, lambda ids: (FusionSettings(method="rrf", rrf_k=60), ""))
            lines.append(row("rrf k=60", result, base))
            result, _ = held(legs, lambda ids: (default, ""))
            lines.append(row(f"product default ({describe(default)})", result, base))
            for label, method, normalise in WEIGHTED_FUSIONS:
                def fitted_on(ids, method=method, normalise=normalise):
                    fitted = fit_fusion_weight(legs, method, normalise=normalise, prior=default.weight, query_ids=ids)
                    return fitted.settings, f"{fitted.weight:g}"
                result, weights = held(legs, fitted_on)
                lines.append(row(f"{label}, fitted w={'/'.join(weights)}", result, base))
            result, _ = held(legs, lambda ids: (AdaptiveFusion(prior=default.weight), ""))
            lines.append(row(f"{AdaptiveFusion(prior=default.weight).label} (no labels)", result, base))

            def adaptive_fitted(ids):
                fitted = fit_weight(legs, lambda w: AdaptiveFusion(prior=w), prior=default.weight, query_ids=ids)
                return fitted.fusion, f"{fitted.weight:g}"
            result, priors = held(legs, adaptive_fitted)
            lines.append(row(f"adaptive, fitted prior={'/'.join(priors)}", result, base))
    return lines


def onnx_cache_dir() -> Path:
    """Where the service keeps its ONNX exports (DATA_DIR/onnx-cache), so a bench run reuses them."""
    from application.settings import Settings

    return Settings().embedding_options()["onnx_cache_dir"]


def describe(settings: FusionSettings) -> str:
    text = settings.describe()
    return f"{text}:{settings.normalise}" if settings.method == "convex" else text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, help="IR JSON: {queries, corpus, relevant_docs}")
    parser.add_argument("--model", action="append", default=[], metavar="PATH",
                        help="a (tuned) sentence-transformers folder, besides the bundled model; repeatable")
    parser.add_argument("--tokenizer", action="append", choices=list(LEXICAL_TOKENIZERS),
                        help=f"lexical tokenizer(s); default: all ({', '.join(LEXICAL_TOKENIZERS)})")
    parser.add_argument("--backend", action="append", choices=list(BACKENDS),
                        help="EMBEDDINGS_BACKEND of every dense model; repeatable (a leg each); default: torch")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES, help="per leg, before fusion")
    parser.add_argument("--split", action="store_true", help="fit on a random half, report on the other half")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1, help="with --split: average over this many seeded splits")
    args = parser.parse_args()

    from plugins import load_embeddings

    started = time.perf_counter()
    ir = load_ir_json(args.ir_json)
    legs = build_legs(ir, candidates=args.candidates)
    relevant, query_ids = legs.relevant, legs.query_ids
    legs_by_model, lexical_by_tok = {}, {}
    backends = args.backend or ["torch"]
    for name in [BUNDLED, *args.model]:
        for backend in backends:
            label = name if backend == "torch" else f"{name} [{backend}]"
            log(f"dense leg: {label} ({len(ir.corpus)} chunks, {len(query_ids)} queries)…")
            options = {} if backend == "torch" else {"backend": backend, "onnx_cache_dir": onnx_cache_dir()}
            legs_by_model[label] = encode_dense_leg(load_embeddings(name, **options), ir,
                                                    candidates=args.candidates, query_ids=query_ids)
    for tok in args.tokenizer or list(LEXICAL_TOKENIZERS):
        lexical_by_tok[tok] = encode_lexical_leg(tok, ir, candidates=args.candidates, query_ids=query_ids)
    log(f"legs encoded in {time.perf_counter() - started:.0f} s; fusing…")

    default = replace(product_default(), candidates=args.candidates)
    print(f"## Retrieval on `{args.ir_json.name}`: {len(query_ids)} queries, {len(ir.corpus)} chunks, "
          f"{args.candidates} candidates per leg")
    print()
    if args.split:
        lines = split_tables(legs_by_model, lexical_by_tok, relevant, default, args.seed, max(1, args.repeats))
    else:
        lines = full_tables(legs_by_model, lexical_by_tok, relevant, default)
        lines.insert(0, "Fitted weights are fitted on these same queries (optimistic; see --split).")
    print("\n".join(lines))
    log(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
