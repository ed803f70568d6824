"""What an answer evaluation writes: every answer (``answers.jsonl``), one row per configuration
(``summary.csv``), the report (``report.md``) and score against latency (``plot.png``)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from training.files import atomic_open, atomic_write_text

COLUMNS = (
    ("judge", lambda c: c["judge_score"], "{:.3f}"),
    ("similarity", lambda c: c["similarity"], "{:.3f}"),
    ("cosine", lambda c: c["cosine"], "{:.3f}"),
    ("supported citations", lambda c: c["faithfulness"]["supported_citations"], "{:.0%}"),
    ("claims without support", lambda c: c["faithfulness"]["unsupported_sentences"], "{:.0%}"),
    ("answers citing nothing", lambda c: c["faithfulness"]["uncited_answers"], "{:.0%}"),
    ("relevant chunk in top k", lambda c: c["hit_at_k"], "{:.0%}"),
    ("first token p50 (s)", lambda c: c["latency"]["first_token_p50"], "{:.3f}"),
    ("full answer p50 (s)", lambda c: c["latency"]["full_p50"], "{:.3f}"),
    ("full answer p95 (s)", lambda c: c["latency"]["full_p95"], "{:.3f}"),
    ("tokens in", lambda c: c["tokens"]["input"], "{:.0f}"),
    ("tokens out", lambda c: c["tokens"]["output"], "{:.0f}"),
    ("USD per question", lambda c: c["cost_per_question"], "{:.5f}"),
    ("USD per month", lambda c: c["monthly_cost"], "{:,.2f}"),
)


def _cell(value, form: str) -> str:
    return "—" if value is None else form.format(value)


def _record_line(record: dict) -> str:
    shown = {key: value for key, value in record.items() if key != "hits"}
    return json.dumps(shown, ensure_ascii=False)


def summary_csv(summary: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["config", "retrieval", "model", "k", "llm", "questions", "answered", "errors", "judged",
                     *(name for name, _, _ in COLUMNS)])
    for c in summary["configs"]:
        p = c["pipeline"]
        writer.writerow([c["name"], p["retrieval"], p["model"] or "", p["k"], p["llm"], c["questions"], c["answered"],
                         c["errors"], c["judged"], *("" if get(c) is None else get(c) for _, get, _ in COLUMNS)])
    return out.getvalue()


def markdown_report(summary: dict) -> str:
    traffic = summary["traffic"]
    lines = [
        f"# Answer evaluation: {summary['dataset'] or 'data set'}",
        "",
        f"* {summary['questions']} questions"
        + (f" ({summary['answered_questions']} answered before it was interrupted)" if summary["interrupted"] else "")
        + f"; reference answers: {summary['reference']}.",
        f"* Similarity: {summary['similarity_method'] or 'none (no reference answers)'}.",
        f"* Judge: {summary['judge']} at temperature 0 ({summary['judge_calls']} calls, the rest from its cache)."
        if summary["judge"] else f"* {summary['judge_note']}",
        f"* Faithfulness: each claim citing [n] checked against source n "
        f"({'by the judge' if summary['judge'] else 'offline: at least 60% of its content words in the source'}).",
        f"* Monthly cost: {traffic['users']} users × {traffic['questions_per_day']:g} questions a day × 30 days, "
        "at the LLM's price per token (LLM_PRICES); the judge's own calls are not counted.",
    ]
    if summary.get("command"):
        lines += ["", "Reproduce with:", "", "```", summary["command"], "```"]
    header = ["config", "retrieval", "LLM", *(name for name, _, _ in COLUMNS)]
    lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for c in summary["configs"]:
        p = c["pipeline"]
        retrieval = p["retrieval"] + (f" · {p['model']}" if p["model"] else "") + f" · k={p['k']}"
        lines.append("| " + " | ".join([c["name"], retrieval, p["llm"],
                                        *(_cell(get(c), form) for _, get, form in COLUMNS)]) + " |")
    notes = []
    for c in summary["configs"]:
        if c["errors"]:
            notes.append(f"* {c['name']}: {c['errors']} of {c['questions']} answers failed: "
                         + "; ".join(c["error_examples"]))
        if summary["judge"] and c["answered"] > c["judged"]:
            notes.append(f"* {c['name']}: {c['answered'] - c['judged']} answers unjudged: "
                         + "; ".join(c["unjudged_reasons"] or ["no reference answer"]))
        if c["cost_per_question"] is None and c["answered"]:
            notes.append(f"* {c['name']}: no cost: {c['pipeline']['llm']} has no price in LLM_PRICES, or the "
                         "server reported no token counts.")
    if notes:
        lines += ["", "## Notes", "", *notes]
    lines += ["", "Files: `answers.jsonl` (every answer with its scores), `summary.csv`, `plot.png`."]
    return "\n".join(lines) + "\n"


def plot(summary: dict, path: Path) -> Path:
    """Score against the full answer's median time, one labelled point per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    judged = any(c["judge_score"] is not None for c in summary["configs"])
    label = "judge score" if judged else "similarity to the reference"
    figure, axes = plt.subplots(figsize=(6, 4), dpi=110)
    for c in summary["configs"]:
        x, y = c["latency"]["full_p50"], c["judge_score"] if judged else c["similarity"]
        if x is None or y is None:
            continue
        axes.scatter([x], [y], s=40)
        axes.annotate(c["name"], (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    axes.set_xlabel("full answer, median (s)")
    axes.set_ylabel(label)
    axes.set_title(f"Answers: {label} against time ({summary['questions']} questions)", fontsize=9)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return path


def write_outputs(summary: dict, records: list[dict], out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"jsonl": out_dir / "answers.jsonl", "csv": out_dir / "summary.csv", "report": out_dir / "report.md",
             "plot": out_dir / "plot.png", "summary": out_dir / "summary.json"}
    atomic_write_text(paths["jsonl"], "".join(_record_line(r) + "\n" for r in records))
    atomic_write_text(paths["csv"], summary_csv(summary))
    atomic_write_text(paths["report"], markdown_report(summary))
    plot(summary, paths["plot"])
    atomic_write_text(paths["summary"], json.dumps({**summary, "files": {k: str(v) for k, v in paths.items()}},
                                                   indent=1, ensure_ascii=False))
    return paths
