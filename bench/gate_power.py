"""Benchmark: the gate's power and false-promotion rate, simulated on real per-question ranks.

Step 1 (real, ~1 minute per set, cached): the serving pipeline — the bundled MiniLM + bm25-en,
fused with the settings' defaults (convex, minmax, weight 0.5) but ``--depth`` candidates per leg
(100, so ranks beyond 10 are known) — ranks every question of the data set; the rank of its
first relevant chunk is kept (``None``: not among the fused candidates). The ranks are cached in
``bench/results/gate_power-ranks-<set>-d<depth>.json`` (git-ignored); later runs read them.

Step 2 (simulated, seconds): a candidate is the baseline with some questions moved, the way a
fine-tune moves them. Each question, independently, changes with probability ``--changed``
(else it keeps its rank: a tie); a changed question's rank is multiplied by ``exp(s)``,
``s ~ Normal(mu, --spread)``, rounded and kept within [1, beyond] — so some questions rise, some
fall, a question at rank 1 can only fall and one far down moves far. ``mu`` is solved (bisection,
deterministic quadrature over ``s``) so that the candidate's *population* mean MRR@10 minus the
baseline's is exactly the truth: +0.03 (a real gain), 0 (equal), -0.01 and -0.03 (worse). Each
trial draws n evaluation questions with replacement from the set, a fresh candidate for them,
and applies every rule; ``--trials`` trials per (set, n, truth). Seeded: the same command prints
the same table.

Each rule's promotion decision is vectorised here; the rules that ``training.gate`` implements
(``today`` = ``GATE_STATISTIC=sign``, ``wilcoxon``) are cross-checked against ``training.gate.judge``
itself on the first ``--check`` trials of every cell, and the run stops if any verdict differs.

    .venv/bin/python bench/gate_power.py                       # both dev sets, the table for docs/training.md
    .venv/bin/python bench/gate_power.py --changed 0.15 --spread 2   # another candidate model
    .venv/bin/python bench/gate_power.py --rebuild             # rank the questions again
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from training.gate import TIE, GateConfig, judge, sign_test, wilcoxon_signed_rank  # noqa: E402

DATA_SETS = (ROOT.parent / "shared" / "data" / "lyft_10k_ir.json", ROOT / "bench" / "data" / "debian_faq_ir.json")
RESULTS = ROOT / "bench" / "results"
SIZES = (100, 200, 400)
TRUTHS = (0.03, 0.0, -0.01, -0.03)
QUADRATURE = 4001  # points of the standard normal used to compute a candidate's expected MRR@10
NON_INFERIORITY_MARGIN = 0.01  # δ of the non-inferiority rule


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- step 1: real ranks ----------------------------------------------------------------------
def serving_fusion(depth: int):
    """The service's default hybrid settings (application/settings.py), ``depth`` candidates per leg."""
    from application.settings import DEFAULT_FUSION_WEIGHT, Settings
    from training.fusion import FusionSettings

    fields = Settings.model_fields
    return FusionSettings(mode="hybrid", method=fields["fusion_method"].default, weight=DEFAULT_FUSION_WEIGHT,
                          normalise=fields["fusion_normalise"].default, rrf_k=fields["fusion_rrf_k"].default,
                          candidates=depth)


def build_ranks(ir_json: Path, depth: int) -> dict:
    """Per question, the rank of its first relevant chunk in the serving pipeline (None: beyond the fused list)."""
    from plugins import load_embeddings
    from plugins.lexical import DEFAULT_LEXICAL
    from plugins.sentence_transformers_backend import bundled_model_path
    from training.irjson import load_ir_json
    from training.retrieval_eval import build_legs, rank_query

    started = time.perf_counter()
    ir = load_ir_json(ir_json)
    legs = build_legs(ir, dense=load_embeddings(bundled_model_path()), lexical=DEFAULT_LEXICAL,
                      candidates=depth, dense_label="all-MiniLM-L6-v2")
    fusion = serving_fusion(depth)
    ranks = {}
    for qid in legs.query_ids:
        fused = [item.chunk_id for item in rank_query(legs, qid, fusion, k=2 * depth)]
        ranks[qid] = next((r for r, cid in enumerate(fused, start=1) if cid in legs.relevant[qid]), None)
    return {"data_set": ir_json.name, "chunks": len(ir.corpus), "depth": depth, "model": "all-MiniLM-L6-v2",
            "lexical": DEFAULT_LEXICAL, "fusion": fusion.describe(), "seconds": round(time.perf_counter() - started, 1),
            "ranks": ranks}


def load_ranks(ir_json: Path, depth: int, rebuild: bool = False) -> dict:
    cache = RESULTS / f"gate_power-ranks-{ir_json.stem}-d{depth}.json"
    if cache.exists() and not rebuild:
        return json.loads(cache.read_text())
    log(f"ranking {ir_json.name} (depth {depth})…")
    built = build_ranks(ir_json, depth)
    RESULTS.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(built, indent=1))
    log(f"  {len(built['ranks'])} questions in {built['seconds']} s → {cache.relative_to(ROOT)}")
    return built


# -- step 2: the candidate model -------------------------------------------------------------
def mrr_at_10(ranks):
    return np.where(ranks <= 10, 1.0 / ranks, 0.0)


def moved(ranks, shifts, beyond: int):
    """Ranks multiplied by ``exp(shifts)``, rounded, kept within [1, beyond]."""
    return np.clip(np.rint(ranks * np.exp(shifts)), 1, beyond)


def expected_gain(ranks, mu: float, changed: float, spread: float, beyond: int) -> float:
    """The population mean of candidate MRR@10 minus baseline MRR@10 for this ``mu`` (quadrature over s)."""
    from scipy.stats import norm

    z = norm.ppf((np.arange(QUADRATURE) + 0.5) / QUADRATURE)
    after = mrr_at_10(moved(ranks[:, None], mu + spread * z[None, :], beyond)).mean(axis=1)
    return float(changed * (after - mrr_at_10(ranks)).mean())


def solve_shift(ranks, truth: float, changed: float, spread: float, beyond: int) -> float:
    """The ``mu`` whose candidate is ``truth`` ahead on MRR@10 (the gain falls as mu rises)."""
    low, high = -8.0, 8.0
    reachable = (expected_gain(ranks, high, changed, spread, beyond),
                 expected_gain(ranks, low, changed, spread, beyond))
    if not reachable[0] <= truth <= reachable[1]:
        raise SystemExit(f"no candidate of this model is {truth:+.3f} ahead; raise --changed or --spread")
    for _ in range(60):
        mid = (low + high) / 2
        if expected_gain(ranks, mid, changed, spread, beyond) > truth:
            low = mid
        else:
            high = mid
    return (low + high) / 2


# -- step 2: the rules -----------------------------------------------------------------------
def bootstrap_means(differences, resamples: int, seed: int):
    """Each trial's bootstrap means, resampled exactly as ``training.gate.paired_bootstrap`` does (seeded)."""
    trials, n = differences.shape
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    counts = np.bincount((picks + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    return differences @ counts.reshape(resamples, n).T.astype(np.float64) / n  # trials × resamples


def per_trial(function, differences):
    return np.array([function(row) for row in differences])


def wins_losses_p(differences):
    return per_trial(lambda row: sign_test(int((row > TIE).sum()), int((row < -TIE).sum())), differences)


def promotions(base, cand, config: GateConfig, beyond: int) -> dict[str, np.ndarray]:
    """Per rule, whether each trial's candidate would be promoted (``base``/``cand``: trials × n ranks)."""
    confidence, resamples, seed = config.confidence, config.resamples, config.seed
    tail = (1 - confidence) / 2
    alpha = 1 - confidence
    gain_needed = config.min_improvement
    finer = {"mrr@10": mrr_at_10, "1/rank": lambda r: np.where(r < beyond, 1.0 / r, 0.0),
             "-log rank": lambda r: -np.log(r)}
    out = {}
    differences = {name: f(cand) - f(base) for name, f in finer.items()}
    boots = {name: bootstrap_means(d, resamples, seed) for name, d in differences.items()}
    low = {name: np.quantile(b, tail, axis=1) for name, b in boots.items()}
    gain = differences["mrr@10"].mean(axis=1)
    ahead = (low["mrr@10"] > 0) & (gain >= gain_needed)
    out["today: bootstrap + sign test (MRR@10)"] = ahead & (wins_losses_p(differences["mrr@10"]) < alpha)
    out["bootstrap alone (MRR@10)"] = ahead
    out["bootstrap + Wilcoxon (MRR@10)"] = ahead & (per_trial(wilcoxon_signed_rank, differences["mrr@10"]) < alpha)
    for name in ("1/rank", "-log rank"):
        # the finer statistic decides; the MRR@10 gain must still reach GATE_MIN_IMPROVEMENT (-log rank has
        # another scale, so only its sign is asked of it)
        own_gain = differences[name].mean(axis=1)
        own_ahead = own_gain >= gain_needed if name == "1/rank" else own_gain > 0
        agrees = per_trial(wilcoxon_signed_rank, differences[name]) < alpha
        out[f"bootstrap + Wilcoxon ({name}, no cut-off)"] = (low[name] > 0) & own_ahead & (gain >= gain_needed) & agrees
    one_sided_low = np.quantile(boots["mrr@10"], alpha, axis=1)
    out[f"non-inferiority (MRR@10 gain > 0, 95 % lower bound > -{NON_INFERIORITY_MARGIN})"] = (
        (gain > 0) & (one_sided_low > -NON_INFERIORITY_MARGIN))
    return out


#: the rules ``training.gate`` implements, by their GATE_STATISTIC, to cross-check against ``judge``
GATE_RULES = {"sign": "today: bootstrap + sign test (MRR@10)", "wilcoxon": "bootstrap + Wilcoxon (MRR@10)"}


def cross_check(base, cand, decided: dict[str, np.ndarray], config: GateConfig) -> int:
    """Run ``training.gate.judge`` on the trials and compare; returns how many verdicts were checked."""
    from dataclasses import fields

    checked = 0
    statistics_known = "statistic" in {f.name for f in fields(GateConfig)}
    for statistic, rule in GATE_RULES.items():
        if not statistics_known and statistic != "sign":
            continue
        chosen = replace(config, statistic=statistic) if statistics_known else config
        for trial, (b, c) in enumerate(zip(base, cand)):
            before = {f"q{i:04d}": {"mrr@10": float(v)} for i, v in enumerate(mrr_at_10(b))}
            after = {f"q{i:04d}": {"mrr@10": float(v)} for i, v in enumerate(mrr_at_10(c))}
            verdict = judge(before, after, chosen)
            if verdict.passed != bool(decided[rule][trial]):
                raise SystemExit(f"the simulation's {rule!r} disagrees with training.gate.judge on trial {trial}: "
                                 f"{verdict.reason}")
            checked += 1
    return checked


def simulate(ranks, *, sizes, truths, trials: int, changed: float, spread: float, beyond: int, seed: int,
             check: int, config: GateConfig, set_index: int) -> list[dict]:
    rows = []
    for t_index, truth in enumerate(truths):
        mu = solve_shift(ranks, truth, changed, spread, beyond)
        for n in sizes:
            rng = np.random.default_rng([seed, set_index, t_index, n])
            base = ranks[rng.integers(0, len(ranks), size=(trials, n))]
            shifts = np.where(rng.random((trials, n)) < changed, mu + spread * rng.standard_normal((trials, n)), 0.0)
            cand = moved(base, shifts, beyond)
            decided = promotions(base, cand, config, beyond)
            checked = cross_check(base[:check], cand[:check], {k: v[:check] for k, v in decided.items()}, config)
            diffs = mrr_at_10(cand) - mrr_at_10(base)
            rows.append({"truth": truth, "n": n, "mu": round(mu, 4), "checked_against_judge": checked,
                         "mean_gain": float(diffs.mean()), "sd_per_question": float(diffs.std(axis=1, ddof=1).mean()),
                         "moved_share": float((np.abs(diffs) > TIE).mean()),
                         "won_share": float((diffs > TIE).mean()),
                         "promoted": {rule: float(v.mean()) for rule, v in decided.items()}})
            log(f"  truth {truth:+.2f} n {n}: " + ", ".join(f"{v.mean():.3f}" for v in decided.values()))
    return rows


def markdown(results: list[dict], trials: int) -> list[str]:
    rules = list(results[0]["rows"][0]["promoted"])
    lines = []
    for result in results:
        truths = sorted({row["truth"] for row in result["rows"]}, reverse=True)
        sizes = sorted({row["n"] for row in result["rows"]})
        lines += ["", f"#### {result['data_set']}: {result['questions']} questions, baseline MRR@10 "
                      f"{result['baseline_mrr@10']:.3f} (depth {result['depth']})", "",
                  "| rule | " + " | ".join(f"{t:+.2f} n={n}" for t in truths for n in sizes) + " |",
                  "|---" * (1 + len(truths) * len(sizes)) + "|"]
        by_key = {(row["truth"], row["n"]): row for row in result["rows"]}
        for rule in rules:
            cells = []
            for t in truths:
                for n in sizes:
                    rate = by_key[(t, n)]["promoted"][rule]
                    bad = t <= 0 and rate > 0.05
                    cells.append(f"**{rate:.1%}**" if bad else f"{rate:.1%}")
            lines.append(f"| {rule} | " + " | ".join(cells) + " |")
        lines.append("")
        largest = {t: by_key[(t, sizes[-1])] for t in truths}
        lines.append("model per truth: " + "; ".join(
            f"{t:+.2f}: mu {row['mu']:+.2f}, {row['moved_share']:.0%} of questions move on MRR@10 "
            f"({row['won_share']:.0%} up), per-question sd {row['sd_per_question']:.3f}" for t, row in largest.items()))
    lines.append("")
    lines.append(f"{trials} trials per cell; promotion rates above 5 % for an equal or worse candidate in bold.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ir_json", type=Path, nargs="*",
                        help=f"IR JSON data sets (default: {', '.join(p.name for p in DATA_SETS)})")
    parser.add_argument("--depth", type=int, default=100, help="candidates per leg when ranking (>= 100)")
    parser.add_argument("--rebuild", action="store_true", help="rank the questions again, ignoring the cache")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="evaluation questions per trial")
    parser.add_argument("--truths", type=float, nargs="+", default=list(TRUTHS), help="population ΔMRR@10")
    parser.add_argument("--changed", type=float, default=0.3, help="chance that a question's rank moves")
    parser.add_argument("--spread", type=float, default=1.0, help="sd of the log-rank move of a moved question")
    parser.add_argument("--shown", type=int, help="keep only questions the baseline answers within this rank "
                        "(a feedback-born evaluation set: raters mark chunks they were shown)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", type=int, default=25, help="trials per cell re-judged by training.gate.judge")
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/gate_power-<time>.json)")
    args = parser.parse_args()

    config = GateConfig()
    results = []
    for set_index, path in enumerate(args.ir_json or DATA_SETS):
        built = load_ranks(path, args.depth, args.rebuild)
        beyond = 2 * built["depth"] + 1  # a relevant chunk not among the fused candidates
        ranks = np.array([beyond if r is None else r for _, r in sorted(built["ranks"].items())], dtype=np.float64)
        if args.shown:
            ranks = ranks[ranks <= args.shown]
        log(f"{built['data_set']}: {len(ranks)} questions, MRR@10 {mrr_at_10(ranks).mean():.4f}, "
            f"{(ranks == beyond).mean():.1%} beyond depth")
        rows = simulate(ranks, sizes=args.sizes, truths=args.truths, trials=args.trials, changed=args.changed,
                        spread=args.spread, beyond=beyond, seed=args.seed, check=args.check, config=config,
                        set_index=set_index)
        results.append({"data_set": built["data_set"], "questions": len(ranks), "depth": built["depth"],
                        "fusion": built["fusion"], "baseline_mrr@10": float(mrr_at_10(ranks).mean()),
                        "beyond_share": float((ranks == beyond).mean()), "rows": rows})
    print(f"## Gate power: changed {args.changed}, spread {args.spread}, seed {args.seed}"
          + (f", questions the baseline ranks within {args.shown}" if args.shown else ""))
    print("\n".join(markdown(results, args.trials)))
    out = args.out or RESULTS / f"gate_power-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                                        if k != "ir_json"}, "results": results}, indent=1))
    log(f"→ {out}")


if __name__ == "__main__":
    main()
