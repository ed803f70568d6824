"""Benchmark: label-free fusion rules against the fixed default, on every IR set we have.

The question (issue 27, item 6): a deployment's first weeks run on the default fusion, before any
rating exists. Which rule, using no labels of the target set, stays within 0.01 MRR@10 of the
better single leg (dense alone, lexical alone) on every set, and how does it compare with the
fixed convex-minmax 0.5?

Rules measured (all label-free):

* ``fixed 0.5`` (today's default), and fixed weights for reference;
* ``adaptive``: a per-query dense share from each leg's peakedness (``AdaptiveFusion``);
* ``ict-fitted``: the convex weight fitted on inverse-cloze pseudo-queries of the corpus
  (a sentence of a chunk is the query, the chunk without that sentence its answer:
  ``training.label_free``, what the service serves before any rating), i.e. labels made from the
  corpus itself;
* score-distribution rules: ``dbsf`` 0.5, ``rrf`` (k 60 and others, for sensitivity).

The legs (dense MiniLM, lexical ``bm25-en``, 50 candidates each) of the real questions and of the
pseudo-queries are encoded once and cached in ``bench/results/label_free_legs-<set>.json``.

    .venv/bin/python bench/label_free_fusion.py ../shared/data/lyft_10k_ir.json \
        bench/data/debian_faq_ir.json bench/data/lsof_faq_ir.json bench/data/package_faqs_ir.json

``--product-chunking``: the same question through the product's own chunking (each corpus entry a file,
split by ``application.ingest.chunking.Chunker`` as an upload is; relevance file-level, files in the order
of their best chunk, as ``bench/feedback_loop.py`` measures), for the pseudo-query rule the service uses
(``training.label_free``) with and without the neighbours of a query's chunk, over several seeds (each
seed draws other sentences: how stable the fitted weight is). Not cached; Lyft takes ~3 min a seed.

    .venv/bin/python bench/label_free_fusion.py --product-chunking ../shared/data/lyft_10k_ir.json \
        bench/data/debian_faq_ir.json bench/data/lsof_faq_ir.json bench/data/package_faqs_ir.json

Results and what they mean: docs/retrieval.md, "A default before any rating".
"""
from __future__ import annotations

import argparse
import json
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
from training.label_free import pseudo_query_ir, pseudo_query_legs  # noqa: E402
from training.retrieval_eval import (  # noqa: E402
    DEFAULT_CANDIDATES, AdaptiveFusion, RetrievalLegs, build_legs, evaluate_pipeline, fit_fusion_weight, fit_weight,
)

CACHE = ROOT / "bench" / "results"
TOKENIZER = "bm25-en"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the legs, encoded once ----------------------------------------------------------------
def legs_to_json(legs: RetrievalLegs) -> dict:
    return {"relevant": {q: sorted(r) for q, r in legs.relevant.items()}, "dense": legs.dense,
            "lexical": legs.lexical, "candidates": legs.candidates}


def legs_from_json(data: dict) -> RetrievalLegs:
    return RetrievalLegs({q: frozenset(r) for q, r in data["relevant"].items()},
                         {q: [tuple(c) for c in v] for q, v in data["dense"].items()},
                         {q: [tuple(c) for c in v] for q, v in data["lexical"].items()},
                         candidates=data["candidates"])


def load_legs(path: Path, candidates: int) -> tuple[RetrievalLegs, RetrievalLegs]:
    """(the real questions' legs, the pseudo-queries' legs) of one IR set, cached."""
    cache = CACHE / f"label_free_legs-{path.stem}-{candidates}.json"
    if cache.exists():
        data = json.loads(cache.read_text())
        return legs_from_json(data["real"]), legs_from_json(data["pseudo"])
    from plugins import load_embeddings
    from plugins.lexical import load_lexical
    from plugins.sentence_transformers_backend import bundled_model_path

    started = time.perf_counter()
    ir = load_ir_json(path)
    model, lexical = load_embeddings(bundled_model_path()), load_lexical(TOKENIZER)
    log(f"{path.name}: encoding {len(ir.corpus)} chunks, {len(ir.queries)} questions and the pseudo-queries…")
    real = build_legs(ir, dense=model, lexical=lexical, candidates=candidates)
    pseudo = pseudo_query_legs(pseudo_query_ir(ir.corpus), model, lexical, candidates)
    CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"real": legs_to_json(real), "pseudo": legs_to_json(pseudo)}))
    log(f"{path.name}: legs in {time.perf_counter() - started:.0f} s -> {cache}")
    return real, pseudo


# -- the rules -----------------------------------------------------------------------------
def default_fusion() -> FusionSettings:
    """The service's hybrid settings with no fitted weight (application/settings.py's defaults)."""
    from application.settings import DEFAULT_FUSION_WEIGHT, Settings

    fields = Settings.model_fields
    return FusionSettings(mode="hybrid", method=fields["fusion_method"].default, weight=DEFAULT_FUSION_WEIGHT,
                          normalise=fields["fusion_normalise"].default, rrf_k=fields["fusion_rrf_k"].default,
                          candidates=fields["fusion_candidates"].default)


def rules(default: FusionSettings, pseudo: RetrievalLegs) -> dict[str, object]:
    """Every label-free rule measured, by label; ``pseudo`` (the corpus's own pseudo-queries) is
    the only data a rule may fit on."""
    fitted = fit_fusion_weight(pseudo, default.method, normalise=default.normalise, prior=default.weight)
    adaptive_prior = fit_weight(pseudo, lambda w: AdaptiveFusion(prior=w), prior=default.weight).weight
    out = {
        "fixed 0.5 (default)": default,
        "adaptive (peakedness, prior 0.5)": AdaptiveFusion(prior=0.5),
        "adaptive, sharpness 2": AdaptiveFusion(prior=0.5, sharpness=2.0),
        "adaptive, depth 10": AdaptiveFusion(prior=0.5, depth=10),
        f"ict-fitted weight ({fitted.weight:g})": fitted.settings,
        f"adaptive, ict-fitted prior ({adaptive_prior:g})": AdaptiveFusion(prior=adaptive_prior),
        "dbsf 0.5": replace(default, method="dbsf"),
        "convex max 0.5": replace(default, normalise="max"),
    }
    for k in (10, 60, 200):
        out[f"rrf k={k}"] = replace(default, method="rrf", rrf_k=k)
    return out


def mrr(legs: RetrievalLegs, fusion) -> float:
    return evaluate_pipeline(legs, fusion).mean["mrr@10"]


def table(paths: list[Path], candidates: int) -> list[str]:
    default = replace(default_fusion(), candidates=candidates)
    results: dict[str, dict[str, float]] = {}  # set -> label -> MRR@10
    legs_best: dict[str, float] = {}
    pseudo_rows: dict[str, tuple[float, float, float]] = {}
    for path in paths:
        real, pseudo = load_legs(path, candidates)
        name = f"{path.stem.removesuffix('_ir')} ({len(real.relevant)} q)"
        dense, lexical = mrr(real, replace(default, mode="dense")), mrr(real, replace(default, mode="lexical"))
        results[name] = {"dense": dense, "lexical": lexical}
        legs_best[name] = max(dense, lexical)
        for label, fusion in rules(default, pseudo).items():
            results[name][label.split(" (")[0] if label.startswith(("ict-fitted", "adaptive, ict")) else label] = mrr(real, fusion)
            if label.startswith(("ict-fitted", "adaptive, ict")):
                results[name].setdefault("_fitted", []).append(label.split("(")[-1].rstrip(")"))
        pseudo_rows[name] = (mrr(pseudo, replace(default, mode="dense")), mrr(pseudo, replace(default, mode="lexical")),
                             len(pseudo.relevant))
    names = list(results)
    labels = [label for label in results[names[0]] if not label.startswith("_")]
    lines = ["MRR@10 per set; in brackets the gap to the better single leg (criterion: never below -0.010).", "",
             "| rule | " + " | ".join(names) + " | mean | worst gap |", "|---" * (len(names) + 3) + "|"]
    for label in labels:
        cells, gaps = [], []
        for name in names:
            value = results[name][label]
            gap = value - legs_best[name]
            gaps.append(gap)
            cells.append(f"{value:.3f}" if label in ("dense", "lexical") else f"{value:.3f} ({gap:+.3f})")
        shown = label
        if label in ("ict-fitted weight", "adaptive, ict-fitted prior"):
            index = 0 if label.startswith("ict") else 1
            shown += " (" + ", ".join(results[n]["_fitted"][index] for n in names) + ")"
        worst = min(gaps)
        mark = "" if label in ("dense", "lexical") else (" ✓" if worst >= -0.010 else "")
        lines.append(f"| {shown} | " + " | ".join(cells) +
                     f" | {statistics.fmean(results[n][label] for n in names):.3f} | {worst:+.3f}{mark} |")
    lines += ["", "The pseudo-queries (inverse cloze, one per chunk): MRR@10 of each leg on them.", "",
              "| set | pseudo-queries | dense | lexical |", "|---|---|---|---|"]
    lines += [f"| {n} | {q} | {d:.3f} | {lx:.3f} |" for n, (d, lx, q) in pseudo_rows.items()]
    return lines + sensitivity(paths, default)


def sensitivity(paths: list[Path], default: FusionSettings, draws: int = 10) -> list[str]:
    """How much the ict-fitted weight moves with the pseudo-queries it is fitted on: fitted on
    ``draws`` seeded random samples of 50 % and of 50 pseudo-queries, the weights' range and the
    real questions' MRR@10 at the worst of them."""
    lines = ["", f"The ict-fitted weight fitted on random samples of the pseudo-queries ({draws} draws each): "
             "its range, and the real questions' MRR@10 (gap to the better leg) at the worst weight drawn.", "",
             "| set | all | 50 % of them | 50 of them |", "|---|---|---|---|"]
    for path in paths:
        real, pseudo = load_legs(path, default.candidates)
        best = max(mrr(real, replace(default, mode="dense")), mrr(real, replace(default, mode="lexical")))
        cells = [f"{fit_fusion_weight(pseudo, default.method, normalise=default.normalise, prior=default.weight).weight:g}"]
        for size in (len(pseudo.relevant) // 2, 50):
            weights = sorted({fit_fusion_weight(pseudo, default.method, normalise=default.normalise,
                                                prior=default.weight,
                                                query_ids=random.Random(seed).sample(pseudo.query_ids, size)).weight
                              for seed in range(draws)})
            worst = min(mrr(real, replace(default, weight=w)) for w in weights)
            cells.append(f"{weights[0]:g}–{weights[-1]:g}: {worst:.3f} ({worst - best:+.3f})")
        lines.append(f"| {path.stem.removesuffix('_ir')} | " + " | ".join(cells) + " |")
    return lines


# -- through the product's chunking --------------------------------------------------------
class _Memo:
    """An embedding backend that encodes each text once (the seeds share the chunks' vectors)."""

    def __init__(self, backend):
        self.backend, self.documents, self.queries = backend, {}, {}
        self.name = getattr(backend, "name", "")

    def embed_documents(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.documents]
        if missing:
            self.documents.update(zip(missing, self.backend.embed_documents(missing)))
        return [self.documents[t] for t in texts]

    def embed_query(self, text):
        if text not in self.queries:
            self.queries[text] = self.backend.embed_query(text)
        return self.queries[text]


def product_chunking_table(paths: list[Path], seeds: list[int]) -> list[str]:
    """File-level MRR@10 of the real questions over the product's chunks: each leg, the fixed default,
    and the weight fitted on the pseudo-queries by ``training.label_free`` (reach 0: the chunk alone is
    relevant; ``NEIGHBOUR_REACH``: its neighbours too), per seed."""
    from feedback_levers import ProductView

    from training.label_free import NEIGHBOUR_REACH, neighbours_by_position

    default = default_fusion()
    reaches = (0, NEIGHBOUR_REACH)
    lines = ["File-level MRR@10 through the product's chunking; in brackets the gap to the better single leg "
             "(criterion: never below -0.010). Fitted weights per seed " + ", ".join(map(str, seeds)) + ".", "",
             "| set | files → chunks | dense | lexical | fixed 0.5 | " +
             " | ".join(f"pseudo-queries, reach {r}" for r in reaches) + " |", "|---" * (5 + len(reaches)) + "|"]
    for path in paths:
        started = time.perf_counter()
        view = ProductView(str(path))
        backend = _Memo(view.embeddings)
        at = {}

        def real(weight: float) -> float:
            weight = round(weight, 2)
            if weight not in at:
                at[weight] = view.file_mrr(view.ranker(replace(default, weight=weight)), view.qids)
            return at[weight]

        dense, lexical = real(1.0), real(0.0)
        best = max(dense, lexical)
        rows = [(cid, *cid.rsplit("#", 1)) for cid in view.cids]
        cells = []
        for reach in reaches:
            neighbours = neighbours_by_position(((cid, doc, int(pos)) for cid, doc, pos in rows), reach)
            fits = []
            for seed in seeds:
                pseudo = pseudo_query_ir(view.corpus, seed, neighbours=neighbours)
                legs = pseudo_query_legs(pseudo, backend, view.lexer, default.candidates)
                weight = fit_fusion_weight(legs, default.method, normalise=default.normalise, prior=default.weight).weight
                fits.append((weight, real(weight)))
                log(f"{path.name}: reach {reach}, seed {seed}: {weight:g} -> {real(weight):.3f}")
            worst = min(value for _, value in fits)
            cells.append(" / ".join(f"{w:g}: {v:.3f}" for w, v in fits) + f" (worst {worst - best:+.3f})")
        lines.append(f"| {path.stem.removesuffix('_ir')} ({len(view.qids)} q) | {len(view.ir.corpus)} → {len(view.cids)} | "
                     f"{dense:.3f} | {lexical:.3f} | {real(default.weight):.3f} ({real(default.weight) - best:+.3f}) | "
                     + " | ".join(cells) + " |")
        log(f"{path.name}: {time.perf_counter() - started:.0f} s")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, nargs="+")
    parser.add_argument("--candidates", type=int, default=DEFAULT_CANDIDATES)
    parser.add_argument("--product-chunking", action="store_true",
                        help="through the product's chunking, file-level, the service's rule with and without neighbours")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2], help="--product-chunking: pseudo-query seeds")
    args = parser.parse_args()
    if args.product_chunking:
        print("\n".join(product_chunking_table(args.ir_json, args.seeds)))
        return
    print("\n".join(table(args.ir_json, args.candidates)))


if __name__ == "__main__":
    main()
