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
               f"point at no stored chunk); the set holds {result['questions']}.")


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
