"""``docstune worker | retrain | jobs``: the job queue from the command line.

Heavy imports stay inside the commands, so ``docstune --help`` stays fast.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import click

from application.db.jobs import JOB_KINDS  # light: the table definition only
from training.finetune import LOSSES  # light: the heavy imports are lazy there


def _services():
    from application.cli import docstune

    return docstune()


def heartbeat_path(heartbeat_file: str | None) -> Path:
    """Where a worker proves it is alive: one file per host (a container is a host) in DATA_DIR/run."""
    if heartbeat_file:
        return Path(heartbeat_file)
    from application.settings import get_settings

    return get_settings().data_dir / "run" / f"worker-{socket.gethostname()}.alive"


def check_heartbeat(path: Path, max_age: float) -> None:
    """``docstune worker --check``: exit 0 if the worker wrote its heartbeat within ``max_age`` s."""
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        raise click.ClickException(f"No worker heartbeat at {path}: no `docstune worker` runs on this host "
                                   f"(or it runs with another DATA_DIR / --heartbeat-file).") from None
    if age > max_age:
        raise click.ClickException(f"The worker's last heartbeat is {age:.0f} s old (over {max_age:g} s, {path}): "
                                   f"its job threads or the job queue are stuck, or it was stopped; see its log.")
    click.echo(f"worker alive: heartbeat {age:.1f} s ago ({path.read_text().strip()})")


@click.command()
@click.option("--threads", type=int, default=1, show_default=True, help="Jobs run at the same time.")
@click.option("--check", is_flag=True,
              help="Health check, for Docker/Kubernetes: exit 0 if a worker on this host wrote its heartbeat "
                   "within --max-age seconds, else 1 with the reason. Starts no worker.")
@click.option("--max-age", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="With --check: the oldest heartbeat that counts as alive.")
@click.option("--heartbeat-seconds", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="How often the worker checks its job threads and the queue and, if both are fine, "
                   "touches its heartbeat file.")
@click.option("--heartbeat-file", default=None,
              help="[default: DATA_DIR/run/worker-<hostname>.alive] Give each worker on one host its own.")
def worker(threads: int, check: bool, max_age: float, heartbeat_seconds: float, heartbeat_file: str | None) -> None:
    """Run background jobs (ingest, reindex, retrain, promote) in this process, until stopped.

    Several workers (and the web processes, with JOBS_WORKER=off) share one queue: REDIS_URL,
    or the SQLite queue in DATA_DIR on one machine. Jobs that touch vectors need a Qdrant
    server (QDRANT_URL) when more than one process runs: the embedded Qdrant Edge lets one process
    open its folder, so here it is opened only by the first job that needs it.
    """
    if check:
        check_heartbeat(heartbeat_path(heartbeat_file), max_age)
        return
    import logging

    heartbeat = heartbeat_path(heartbeat_file)
    app = _services()
    settings = app.settings
    runtime = app.jobs
    if runtime.huey.immediate:
        raise click.ClickException("JOBS_WORKER=immediate runs jobs in the caller; a worker has nothing to do.")
    log = logging.getLogger("application.jobs")
    log.setLevel(logging.INFO)  # one line per job started and ended
    stop = {"now": False}

    def request_stop(signum, _frame):
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    runtime.start_worker(threads=threads)
    from application.jobs.queue import describe_queue

    click.echo(f"docstune worker: {threads} thread(s) on {describe_queue(settings)}; Ctrl-C to stop.", err=True)
    if settings.qdrant_url:
        try:
            runtime.start_pending_reindex()  # a configured model that is not indexed yet gets its job now
        except Exception as exc:
            click.echo(f"warning: {exc}", err=True)
    else:
        click.echo(f"Embedded Qdrant Edge ({settings.qdrant_path_resolved}): opened by the first job that needs "
                   f"vectors; no other process may have it open then (set QDRANT_URL to share it).", err=True)
    heartbeat.parent.mkdir(parents=True, exist_ok=True)
    next_beat, problem = 0.0, None
    try:
        while not stop["now"]:
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + heartbeat_seconds
                now_problem = runtime.worker_health()
                if now_problem is None:
                    heartbeat.write_text(f"pid {os.getpid()}, {threads} thread(s)\n")  # its mtime is the beat
                elif now_problem != problem:
                    log.warning("No heartbeat: %s", now_problem)
                problem = now_problem
            time.sleep(0.5)
        click.echo("Stopping: the running job finishes first.", err=True)
        runtime.stop_worker(wait=True)
    finally:
        heartbeat.unlink(missing_ok=True)


def _print_job(job: dict) -> None:
    progress = job["progress"]
    line = (f"{job['id']}  {job['kind']:<8} {job['status']:<9} {progress['done']}/{progress['total']} "
            f"({progress['percent']}%)  {job['created_at']}  {progress['message']}")
    click.echo(line)
    if job["error"]:
        click.echo(f"    error: {job['error']}")


@click.group(invoke_without_command=True)
@click.option("--kind", type=click.Choice(JOB_KINDS), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs(ctx, kind, limit, as_json) -> None:
    """List background jobs, newest first (`jobs show ID`, `jobs cancel ID`)."""
    if ctx.invoked_subcommand is not None:
        return
    rows = _services().jobs.store.list(limit=limit, kind=kind)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No jobs yet.")
    for job in rows:
        _print_job(job)


@jobs.command("show")
@click.argument("job_id")
def jobs_show(job_id: str) -> None:
    """One job as JSON."""
    click.echo(json.dumps(_services().jobs.store.get(job_id), indent=2))


@jobs.command("cancel")
@click.argument("job_id")
def jobs_cancel(job_id: str) -> None:
    """Cancel a queued job, or ask a running one to stop (its half-done work is undone)."""
    _print_job(_services().jobs.store.request_cancel(job_id))


@click.command()
@click.option("--loss", type=click.Choice(LOSSES), default=None,
              help="[default: RETRAIN_LOSS, else mnrl, 1 epoch at 5e-5 on the hardest rows: measured, docs/training.md]")
@click.option("--epochs", type=int, default=None, help="[default: the data's measured default]")
@click.option("--learning-rate", type=float, default=None, help="[default: the loss's measured default]")
@click.option("--max-seq-length", type=int, default=None, help="[default: RETRAIN_MAX_SEQ_LENGTH, else the data's]")
@click.option("--batch-size", type=int, default=None, help="[default: RETRAIN_BATCH_SIZE, else the data's]")
@click.option("--seed", type=int, default=None)
@click.option("--hard-negatives/--no-hard-negatives", default=None, help="[default: on]")
@click.option("--include-synthetic/--no-synthetic", default=None,
              help="Also train on synthetic questions about the stored chunks [default: RETRAIN_INCLUDE_SYNTHETIC, on]")
@click.option("--synthetic-chunks", type=int, default=None,
              help="Chunks that get synthetic questions, worst ranked first [default: RETRAIN_SYNTHETIC_CHUNKS]")
@click.option("--auto-promote", is_flag=True, help="Promote (re-index and switch) if the gate says better.")
def retrain(loss, epochs, learning_rate, max_seq_length, batch_size, seed, hard_negatives, include_synthetic,
            synthetic_chunks, auto_promote) -> None:
    """Read the ratings, fine-tune the serving model, judge it on the frozen evaluation set, register it (and promote it).

    The same run as `docstune train --from-feedback` on the same ratings, as a job row that
    `docstune jobs` and GET /api/jobs show. Stop `docstune serve` first with the embedded Qdrant
    Edge (one process per folder), or use POST /api/admin/retrain.
    """
    from application.models_admin import parse_retrain_options

    given = {"loss": loss, "epochs": epochs, "learning_rate": learning_rate, "max_seq_length": max_seq_length,
             "batch_size": batch_size, "seed": seed, "hard_negatives": hard_negatives,
             "include_synthetic": include_synthetic, "synthetic_chunks": synthetic_chunks,
             "auto_promote": auto_promote or None}
    body = {k: v for k, v in given.items() if v is not None}
    options = parse_retrain_options(body)
    app = _services()
    runtime = app.jobs
    runtime.inline = True
    app.serving.current  # the serving model must be there before training starts from it
    job = runtime.submit("retrain", options)
    if job["status"] != "done":
        raise click.ClickException(f"Retrain job {job['id']} {job['status']}: {job['error']}")
    result = job["result"]
    click.echo(f"Registered {result['version']} ({result['verdict'].replace('_', ' ')}): {result['reason']}")
    for key, path in result["files"].items():
        click.echo(f"{key.capitalize() + ':':8} {path}")
    if result.get("promote_job_id"):
        promoted = runtime.store.get(result["promote_job_id"])
        if promoted["status"] != "done":
            raise click.ClickException(f"Promotion job {promoted['id']} {promoted['status']}: {promoted['error']}")
        click.echo(f"Promoted: {result['version']} now serves ({promoted['result']['collection']}).")
    elif result["verdict"] == "better":
        click.echo(f"Make it serve with: POST /api/admin/models/{result['version']}/promote "
                   f"(or docstune models promote {result['version']} and restart)")
    sys.stdout.flush()


@click.command()
def tune() -> None:
    """Fit the fusion weight (the dense share of a hybrid search) on the rated questions; no training.

    Searches the held-out rated questions through the serving collection, fits the weight that
    ranks their rated chunks best, and stores it for that collection if it does not do worse on
    questions it was not fitted on (cross-fitted). Seconds, not minutes. Runs here, as a job row;
    stop `docstune serve` first with the embedded Qdrant Edge, or use POST /api/admin/tune.
    """
    app = _services()
    runtime = app.jobs
    runtime.inline = True
    job = runtime.submit("tune", {})
    if job["status"] != "done":
        raise click.ClickException(f"Tune job {job['id']} {job['status']}: {job['error']}")
    result = job["result"]
    metric = result["metric"]
    click.echo(f"Fitted weight {result['weight']:g} (dense share) on {result['questions']} held-out rated questions; "
               f"{metric} {result['cross_fitted'][metric]:.4f} cross-fitted, "
               f"{result['baseline'][metric]:.4f} at the serving weight {result['previous_weight']:g} "
               f"({result['previous_source']}).")
    click.echo(f"Serving: {result['serving']}.")
    sys.stdout.flush()


COMMANDS = [worker, jobs, retrain, tune]
