"""``docstune evalset show | export | import | measure``: the deployment's frozen evaluation set."""
from __future__ import annotations

import json
import sys

import click

from application.commands.training import _fail_cleanly


def _services():
    from application.cli import docstune

    return docstune()


@click.group()
def evalset():
    """The frozen evaluation set: rated questions that judge every version and are never trained on."""


@evalset.command("show")
def show():
    """How many questions, from where, its fingerprint, and the serving pipeline's latest score on it."""
    from application.db.evaluation_set import evaluation_summary

    click.echo(json.dumps(evaluation_summary(_services().db), indent=1))


@evalset.command("export")
@click.argument("out_file", type=click.Path(dir_okay=False))
@_fail_cleanly
def export(out_file):
    """Write the set as IR JSON over every stored chunk (docstune eval --dataset reads it)."""
    from application.db.evaluation_set import export_ir
    from training.irjson import save_ir_json

    ir = export_ir(_services().db)
    path = save_ir_json(ir, out_file)
    click.echo(f"Wrote {len(ir.queries)} evaluation questions over {len(ir.corpus)} chunks to {path}")


@evalset.command("import")
@click.argument("ir_file", type=click.Path(dir_okay=False))
@_fail_cleanly
def import_command(ir_file):
    """Add the questions of an IR JSON file; their relevant ids (or exact chunk texts) must match stored chunks."""
    from application.db.evaluation_set import import_ir
    from training.irjson import load_ir_json

    result = import_ir(_services().db, load_ir_json(ir_file))
    click.echo(f"Added {result['added']} questions ({result['already_there']} were there, {result['unmatched']} "
               f"point at no stored chunk) and {result['answers']} reference answers; the set holds "
               f"{result['questions']}.")


@evalset.command("measure")
def measure():
    """Bring the set up to date with the ratings and measure the serving pipeline on it (a job, here).

    Stop `docstune serve` first with the embedded Qdrant Edge, or use POST /api/admin/evaluate.
    """
    runtime = _services().jobs
    runtime.inline = True
    job = runtime.submit("evaluate", {})
    if job["status"] != "done":
        raise click.ClickException(f"Evaluate job {job['id']} {job['status']}: {job['error']}")
    measured = job["result"]["measured"]
    metrics = measured["metrics"]
    click.echo(f"{measured['questions']} evaluation questions; serving {measured['model_name']} "
               f"({measured['retrieval']['mode']}, weight {measured['retrieval']['weight']:g}): "
               f"MRR@10 {metrics['mrr@10']:.4f}, hit@5 {metrics['accuracy@5']:.4f}")
    sys.stdout.flush()


COMMANDS = [evalset]


@click.command("eval-answers")
@click.option("--dataset", "dataset_file", required=True, type=click.Path(dir_okay=False),
              help="IR JSON {queries, corpus, relevant_docs[, answers]} (docstune evalset export writes one).")
@click.option("--config", "config_specs", multiple=True, metavar="NAME=SPEC",
              help="A configuration to answer with, repeatable: NAME=model=v3,mode=hybrid,weight=0.5,k=4,"
                   "llm=anthropic:MODEL (every key optional) [default: serving].")
@click.option("--reference", type=click.Choice(["auto", "answers", "relevant-chunk", "none"]), default="auto",
              show_default=True, help="Reference answers: the set's `answers`, its relevant chunks (FAQ-style sets), "
                                      "or none; auto: answers when the set has them, else the relevant chunks.")
@click.option("--judge", default=None, metavar="auto|none|PROVIDER[:MODEL]",
              help="The LLM judge [default: JUDGE_PROVIDER, auto: Claude with ANTHROPIC_API_KEY, else an "
                   "OpenAI-compatible server when OPENAI_BASE_URL is set, else none].")
@click.option("--users", type=click.IntRange(min=1), default=None, help="Traffic for the monthly cost [default: EVAL_USERS].")
@click.option("--questions-per-day", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Questions per user per day [default: EVAL_QUESTIONS_PER_DAY].")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Answer a fixed sample of this many questions.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for answers.jsonl, summary.csv, report.md, plot.png [default: DATA_DIR/answer-evaluations/<time>].")
@_fail_cleanly
def eval_answers(dataset_file, config_specs, reference, judge, users, questions_per_day, limit, out_dir):
    """Answer every question of a data set with each configuration, as the chat does, and score the answers:
    an LLM judge (0-1) and similarity against reference answers, citation faithfulness, time to the first token
    and to the full answer, tokens and cost (per question and per month of stated traffic)."""
    import shlex
    from datetime import datetime, timezone
    from pathlib import Path

    from tqdm import tqdm

    from application.answer_eval import DEFAULT_CONFIGS, ConfigError, evaluate_answers, parse_config
    from application.errors import DocsTuneError
    from training.irjson import load_ir_json

    try:
        configs = [parse_config(spec) for spec in config_specs] or list(DEFAULT_CONFIGS)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--config") from None
    ir = load_ir_json(dataset_file)
    app = _services()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(out_dir) if out_dir else app.settings.data_dir / "answer-evaluations" / stamp
    bar = tqdm(total=None, unit="answer", desc="Answering", dynamic_ncols=True)

    def progress(done, total, message):
        bar.total = total
        bar.n = done
        if message and not done:
            bar.set_description(message)
        else:
            bar.set_description("Answering")
        bar.refresh()

    try:
        summary = evaluate_answers(app, ir, configs, out_dir=out, reference=reference, judge=judge, users=users,
                                   questions_per_day=questions_per_day, limit=limit, progress=progress,
                                   dataset_name=Path(dataset_file).name,
                                   command="docstune eval-answers " + shlex.join(
                                       ["--dataset", dataset_file, *(a for s in config_specs for a in ("--config", s)),
                                        "--reference", reference, *(["--limit", str(limit)] if limit else [])]))
    except DocsTuneError as exc:  # an LLM that failed, or one asked for and not configured
        raise click.ClickException(exc.message) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    if summary["judge_note"]:
        click.echo(summary["judge_note"], err=True)
    for c in summary["configs"]:
        shown = [f"{c['name']}: {c['answered']}/{c['questions']} answered"]
        for label, value in (("judge", c["judge_score"]), ("similarity", c["similarity"])):
            if value is not None:
                shown.append(f"{label} {value:.3f}")
        faith = c["faithfulness"]["supported_citations"]
        if faith is not None:
            shown.append(f"supported citations {faith:.0%}")
        if c["latency"]["full_p50"] is not None:
            shown.append(f"full answer p50 {c['latency']['full_p50']:.2f} s")
        if c["monthly_cost"] is not None:
            shown.append(f"${c['monthly_cost']:,.2f}/month")
        click.echo(", ".join(shown))
    click.echo(f"Wrote {summary['files']['report']} (and answers.jsonl, summary.csv, plot.png beside it)")
    if summary["interrupted"]:
        click.echo("Interrupted: the report holds the answers given before Ctrl-C.", err=True)
        sys.exit(130)


COMMANDS.append(eval_answers)
