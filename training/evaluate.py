"""Compare embedding models on the same held-out questions, with the library's IR evaluator.

``InformationRetrievalEvaluator`` gives hit-rate (accuracy)@1/3/5/10, precision and
recall@1/3/5/10, MRR@10, NDCG@10 and MAP@100; this module runs it on every model of
one comparison and writes ``metrics.json``, ``report.md`` and ``hit_rate.png``.
:func:`evaluate_pipelines` compares retrieval *pipelines* instead (each model × dense, lexical,
hybrid fusion settings) with ``training.retrieval_eval``'s metrics (accuracy@k, MRR@10, NDCG@10
only: the report shows "—" for the metrics a label lacks).

Example::

    from training.evaluate import evaluate_models, evaluate_pipelines, write_evaluation_outputs
    from training.fusion import FusionSettings
    run = evaluate_models({"active": "/models/v1/model", "candidate": "/tmp/ft"}, held_out_ir)
    paths = write_evaluation_outputs(run, "/tmp/eval")
    print(run.metrics["candidate"]["mrr@10"], paths["report"])
    run = evaluate_pipelines({"active": "/models/v1/model"}, held_out_ir,
                             [FusionSettings(mode="dense"), FusionSettings(mode="lexical"), FusionSettings()])
    list(run.metrics)  # ['active · dense', 'lexical (bm25-en)', 'active · hybrid:convex-minmax:0.5']
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from training.files import atomic_open, atomic_write_text
from training.records import IRDataset

HIT_RATE_KS = (1, 3, 5, 10)
HEADLINE_METRICS = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "map@100")


@dataclass
class EvaluationRun:
    """Metrics per model label, all measured on ``query_ids`` against ``corpus_size`` chunks."""

    metrics: dict[str, dict[str, float]]
    models: dict[str, str]
    query_ids: list[str]
    corpus_size: int
    dataset: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    #: label -> query id -> metrics, where the evaluation kept them (pipelines; the gate pairs them)
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _strip_prefix(key: str) -> str:
    # "cosine_accuracy@1" -> "accuracy@1" (the prefix is the model's similarity function)
    return key.split("_", 1)[1] if "_" in key else key


def evaluate_models(
    models: dict[str, object],
    ir: IRDataset,
    *,
    batch_size: int = 32,
    device: str | None = None,
    max_seq_length: int | None = None,
    show_progress: bool = False,
    dataset_name: str = "",
) -> EvaluationRun:
    """Evaluate each model (a folder path or a loaded ``SentenceTransformer``) on ``ir``, in one run."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from training.finetune import load_model

    ir.validate("evaluation data set")
    relevant = {qid: set(cids) for qid, cids in ir.relevant_docs.items() if cids and qid in ir.queries}
    evaluator = InformationRetrievalEvaluator(
        queries={qid: ir.queries[qid] for qid in relevant},
        corpus=ir.corpus,
        relevant_docs=relevant,
        accuracy_at_k=list(HIT_RATE_KS),
        precision_recall_at_k=list(HIT_RATE_KS),
        mrr_at_k=[10],
        ndcg_at_k=[10],
        map_at_k=[100],
        batch_size=batch_size,
        show_progress_bar=show_progress,
        write_csv=False,
    )
    results, paths = {}, {}
    for label, model in models.items():
        if isinstance(model, (str, os.PathLike)):
            paths[label] = str(model)
            model = load_model(model, device=device)
        else:
            paths[label] = str(getattr(model, "model_card_data", None) and model.model_card_data.base_model or label)
        if max_seq_length:
            model.max_seq_length = max_seq_length
        raw = evaluator(model)
        results[label] = {_strip_prefix(k): float(v) for k, v in raw.items()}
    return EvaluationRun(results, paths, sorted(relevant), len(ir.corpus), dataset_name)


def _model_source(label: str, model) -> str:
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    return str(getattr(model, "model_card_data", None) and model.model_card_data.base_model or label)


def evaluate_pipelines(
    models: dict[str, object],
    ir: IRDataset,
    retrievals: Sequence,
    *,
    lexical="bm25-en",
    candidates: int | None = None,
    batch_size: int = 32,
    device: str | None = None,
    max_seq_length: int | None = None,
    dataset_name: str = "",
) -> EvaluationRun:
    """Every model (a folder path or a loaded ``SentenceTransformer``) × every ``FusionSettings`` of
    ``retrievals``, over the whole corpus of ``ir``, with ``training.retrieval_eval``'s metrics.

    The lexical leg (``lexical``: a tokenizer name or a loaded encoder) is built once, one dense leg
    per model, each with ``candidates`` per query (default: the largest of the settings'). Labels
    read ``"<model label> · <fusion>"`` (``retrieval_eval.describe_fusion``, e.g.
    ``"v3 · hybrid:convex-minmax:0.5"``); a lexical-only setting does not depend on the model and
    appears once, as ``"lexical (bm25-en)"``. Repeated settings are evaluated once.
    """
    from training.finetune import load_model
    from training.retrieval_eval import build_legs, describe_fusion, encode_dense_leg, evaluate_pipeline

    settings = list(dict.fromkeys(retrievals))
    if not settings:
        raise ValueError("evaluate_pipelines needs at least one retrieval setting")
    depth = candidates or max(s.candidates for s in settings)
    encoder = None
    if any(s.uses_lexical for s in settings):
        if isinstance(lexical, str):
            from plugins.lexical import load_lexical

            encoder = load_lexical(lexical)
        else:
            encoder = lexical
    lexical_name = getattr(encoder, "name", "") or (lexical if isinstance(lexical, str) else "")
    legs = build_legs(ir, lexical=encoder, candidates=depth, lexical_label=lexical_name)
    lexical_label = f"lexical ({legs.lexical_label or 'bm25'})"
    results, sources, per_query = {}, {}, {}
    for model_label, model in models.items():
        model_legs = legs
        if any(s.uses_dense for s in settings):
            loaded = load_model(model, device=device) if isinstance(model, (str, os.PathLike)) else model
            if max_seq_length:
                loaded.max_seq_length = max_seq_length
            dense = encode_dense_leg(loaded, ir, candidates=depth, query_ids=legs.query_ids, batch_size=batch_size)
            model_legs = legs.with_dense(dense, model_label)
        for fusion in settings:
            if not fusion.uses_dense:
                if lexical_label not in results:
                    measured = evaluate_pipeline(legs, fusion)
                    results[lexical_label], per_query[lexical_label] = measured.mean, measured.per_query
                    sources[lexical_label] = str(getattr(encoder, "version", "") or lexical_name)
                continue
            label = f"{model_label} · {describe_fusion(fusion)}"
            measured = evaluate_pipeline(model_legs, fusion)
            results[label], per_query[label] = measured.mean, measured.per_query
            sources[label] = _model_source(model_label, model)
    return EvaluationRun(results, sources, legs.query_ids, len(ir.corpus), dataset_name, per_query=per_query)


def plot_hit_rate(run: EvaluationRun, path: str | os.PathLike) -> Path:
    """PNG of hit-rate@k for every model of the run (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, metrics in run.metrics.items():
        points = [(k, metrics[f"accuracy@{k}"]) for k in HIT_RATE_KS if metrics.get(f"accuracy@{k}") is not None]
        if points:  # a label without some hit-rates is drawn through the ones it has
            ax.plot([k for k, _ in points], [v for _, v in points], marker="o", label=label)
    ax.set_xlabel("k (chunks retrieved)")
    ax.set_ylabel("hit-rate@k")
    ax.set_xticks(HIT_RATE_KS)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(f"Held-out retrieval ({len(run.query_ids)} questions, {run.corpus_size} chunks)")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_open(path, "wb") as handle:
            fig.savefig(handle, format="png")
    finally:
        plt.close(fig)
    return path


def markdown_report(run: EvaluationRun, verdict=None) -> str:
    """A Markdown table of every headline metric, with the delta of each model against the first.

    A metric a label lacks (a pipeline has no precision, recall or MAP) shows as "—", and so does
    its delta; a metric no label has is left out.
    """
    labels = list(run.metrics)
    names = [f"accuracy@{k}" for k in HIT_RATE_KS] + ["precision@1", "recall@10", "mrr@10", "ndcg@10", "map@100"]
    names = [name for name in names if any(run.metrics[label].get(name) is not None for label in labels)]
    lines = [
        "# Retrieval evaluation",
        "",
        f"{len(run.query_ids)} held-out questions, {run.corpus_size} chunks"
        + (f", data set `{run.dataset}`" if run.dataset else "")
        + f" — {run.created_at}",
        "",
        "Models: " + ", ".join(f"**{label}** (`{run.models.get(label, label)}`)" for label in labels),
        "",
        "| metric | " + " | ".join(labels) + (" | Δ " + labels[-1] + " − " + labels[0] if len(labels) > 1 else "") + " |",
        "|---" * (len(labels) + 1 + (len(labels) > 1)) + "|",
    ]
    for name in names:
        values = [run.metrics[label].get(name) for label in labels]
        row = f"| {name.replace('accuracy', 'hit-rate')} | " + " | ".join(_cell(v) for v in values)
        if len(labels) > 1:
            both = values[-1] is not None and values[0] is not None
            row += f" | {values[-1] - values[0]:+.4f}" if both else " | —"
        lines.append(row + " |")
    if verdict is not None:
        lines += ["", f"## Gate: **{getattr(verdict, 'label', verdict.status)}**", "", verdict.reason]
        lines += _gate_statistics(verdict)
    return "\n".join(lines) + "\n"


def _gate_statistics(verdict) -> list[str]:
    """The paired comparison behind the verdict: interval, wins and losses, the questions that moved most."""
    questions = getattr(verdict, "questions", 0)
    if not questions:
        return []
    lines = ["", f"Paired over {questions} questions ({verdict.metric}, candidate − baseline):", "",
             f"* mean difference {verdict.candidate - verdict.baseline:+.4f}"]
    if verdict.interval:
        low, high = verdict.interval
        lines.append(f"* {verdict.confidence:.0%} bootstrap interval [{low:+.4f}, {high:+.4f}]")
    lines.append(f"* questions won {verdict.wins}, lost {verdict.losses}, tied {verdict.ties}"
                 + (f" (sign test p = {verdict.sign_p_value:.3g})" if verdict.sign_p_value is not None else ""))
    if getattr(verdict, "p_value", None) is not None and getattr(verdict, "statistic", "sign") != "sign":
        lines.append(f"* {verdict.test_name} p = {verdict.p_value:.3g} (the test the gate rests on)")
    if verdict.needed_questions:
        lines.append(f"* about {verdict.needed_questions} more evaluation questions would likely settle it")
    if verdict.changed:
        lines += ["", "| question id | baseline | candidate | Δ |", "|---|---|---|---|"]
        lines += [f"| {c['query_id']} | {c['baseline']:.4f} | {c['candidate']:.4f} | "
                  f"{c['candidate'] - c['baseline']:+.4f} |" for c in verdict.changed]
    return lines


def _cell(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def write_evaluation_outputs(run: EvaluationRun, out_dir: str | os.PathLike, verdict=None) -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md`` and ``hit_rate.png`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = run.to_dict()
    if verdict is not None:
        payload["gate"] = verdict.to_dict()
    paths = {"metrics": out / "metrics.json", "report": out / "report.md", "plot": out / "hit_rate.png"}
    atomic_write_text(paths["metrics"], json.dumps(payload, indent=1))
    atomic_write_text(paths["report"], markdown_report(run, verdict))
    plot_hit_rate(run, paths["plot"])
    return paths


