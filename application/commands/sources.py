"""``docstune ingest``, ``docstune sources``, ``docstune sync`` and ``docstune documents``.

A folder, a file, a web site or a git repository given to ``ingest`` becomes a *source*: it is read
now, and read again by ``docstune sync`` or on its schedule (``--schedule daily``). ``documents``
lists and deletes single documents.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from application.db.models import SYNC_SCHEDULES

WEB_MODES = ("auto", "page", "sitemap", "crawl")


def _services():
    from application.cli import docstune

    return docstune()


def _progress(desc: str):
    from application.cli import TqdmProgress

    return TqdmProgress(desc, "chunk")


def _kind_of(target: str, git: bool) -> str:
    """What an ``ingest`` argument names: a git repository, a web page or site, a folder or a file."""
    from application.ingest.sync import looks_like_git

    if git or looks_like_git(target):
        return "git"
    if "://" in target:
        return "web"  # the web source refuses anything but http(s) with one line
    return "folder" if Path(target).expanduser().is_dir() else "file"


def _label_free_after(app, trigger: str) -> None:
    """After chunks changed: the fusion weight fitted on the corpus's own pseudo-queries, as the server
    does after an ingest job (``submit_label_free``). Run at once with JOBS_WORKER=immediate; otherwise
    queued for the server's worker (``docstune serve`` or ``docstune worker``), which runs it on start."""
    from application.jobs.handlers import submit_label_free

    job_id = submit_label_free(app, trigger)
    if job_id is None:
        return
    job = app.jobs.store.get(job_id)
    if job["status"] == "done":
        click.echo(f"Fusion weight: {job['result']['serving']} (job {job_id[:8]}).")
    elif job["status"] == "failed":
        click.echo(f"Fusion weight: not fitted (job {job_id[:8]}): {job['error']}", err=True)
    else:
        click.echo(f"Fusion weight: the server's worker fits one on this corpus's own questions "
                   f"(job {job_id[:8]}, label-free) when it starts.")


def _echo_report(report, label: str) -> None:
    for path, reason in report.skipped:
        click.echo(f"skipped: {path}: {reason}", err=True)
    for path, reason in report.warnings:
        click.echo(f"warning: {path}: {reason}", err=True)
    for path, reason in report.failed:
        click.echo(f"failed: {reason} ({path})", err=True)
    removed = f", {len(report.removed)} removed" if report.removed else ""
    click.echo(
        f"{label}: {len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged"
        f"{removed}, {len(report.skipped)} skipped, {len(report.failed)} failed; {report.chunks} chunks embedded."
    )


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--git", "git", is_flag=True, help="TARGETS are git repositories (a URL or a local path).")
@click.option("--branch", default=None, help="git: the branch to read (default: the repository's default).")
@click.option("--include", multiple=True, help="git/web: only paths matching this glob (repeatable), e.g. 'docs/**'.")
@click.option("--exclude", multiple=True, help="git/web: leave out paths matching this glob (repeatable).")
@click.option("--mode", type=click.Choice(WEB_MODES), default="auto", show_default=True,
              help="web: one page, a sitemap, or a crawl from the URL (auto: a sitemap if it is one, else a crawl).")
@click.option("--depth", "max_depth", type=click.IntRange(0, 50), default=None,
              help="web: links followed from the start page (default WEB_MAX_DEPTH).")
@click.option("--max-pages", type=click.IntRange(1, 100_000), default=None,
              help="web: pages read per sync (default WEB_MAX_PAGES).")
@click.option("--schedule", type=click.Choice(SYNC_SCHEDULES), default=None,
              help="Sync again on this schedule (the server's worker runs it).")
@click.option("--name", default=None, help="A name for the source (default: from its location).")
def ingest(targets: tuple[str, ...], git: bool, branch, include, exclude, mode, max_depth, max_pages, schedule,
           name) -> None:
    """Add documents: folders and files (.md .docx .pptx .xlsx .pdf, scans, …), web pages, sitemaps and
    sites (https://…), git repositories (….git or --git). Each becomes a source that `docstune sync`
    reads again; only what changed is embedded again."""
    app = _services()
    sources = app.sources
    failures = 0
    found_any = changed = False
    for target in targets:
        kind = _kind_of(target, git)
        options = {}
        if kind == "git":
            options = {"branch": branch, "include": list(include), "exclude": list(exclude)}
        elif kind == "web":
            options = {"mode": mode, "max_depth": max_depth, "max_pages": max_pages,
                       "include": list(include), "exclude": list(exclude)}
            options = {k: v for k, v in options.items() if v is not None}
        elif not Path(target).expanduser().exists():
            raise click.ClickException(f"{target} does not exist")
        source = sources.add(kind, target, name=name, options=options, schedule=schedule)
        progress = _progress(f"{kind} {source['name'][:40]}")
        try:
            report = sources.sync(source["id"], progress=progress)
        finally:
            progress.close()
        _echo_report(report, source["location"])
        failures += len(report.failed)
        found_any = found_any or bool(report.added or report.updated or report.unchanged)
        changed = changed or bool(report.added or report.updated or report.removed)
    if changed:
        _label_free_after(app, "docstune ingest")
    if failures:
        raise click.ClickException(f"{failures} document(s) could not be ingested (see above); the rest were.")
    if not found_any:
        raise click.ClickException(f"No supported documents found in {', '.join(targets)}.")


@click.group(invoke_without_command=True)
@click.pass_context
def sources(ctx) -> None:
    """Where documents come from (folders, uploads, web sites, git repositories): list, set, delete."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(sources_list)


@sources.command("list")
@click.option("--json", "as_json", is_flag=True)
def sources_list(as_json: bool = False) -> None:
    """Every source with its schedule, last sync, status and document count."""
    rows = _services().sources.list()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No sources yet: `docstune ingest PATH|URL`.")
    for row in rows:
        synced = (row["last_sync_at"] or "never")[:19].replace("T", " ")
        error = f"  ({row['last_error']})" if row["last_error"] and row["status"] != "ok" else ""
        missing = f", {row['missing_count']} missing upstream" if row["missing_count"] else ""
        click.echo(f"{row['id']}  {row['kind']:<6} {row['document_count']:>5} documents{missing}  "
                   f"{row['schedule']:<6}  last sync {synced}  {row['status']}{error}  {row['name']} "
                   f"({row['location']})")


@sources.command("set")
@click.argument("source")
@click.option("--schedule", type=click.Choice(SYNC_SCHEDULES), default=None)
@click.option("--name", default=None)
def sources_set(source: str, schedule, name) -> None:
    """Change a source's schedule or name (SOURCE: its id or location)."""
    app = _services()
    row = app.sources.update(app.sources.find(source).id, schedule=schedule, name=name)
    click.echo(f"{row['id']}  {row['name']}: schedule {row['schedule']}"
               + (f", next sync {row['next_sync_at'][:19].replace('T', ' ')}" if row["next_sync_at"] else ""))


@sources.command("delete")
@click.argument("source_ids", metavar="SOURCE...", nargs=-1, required=True)
def sources_delete(source_ids: tuple[str, ...]) -> None:
    """Remove sources with their documents, chunks and vectors (SOURCE: an id or a location)."""
    app = _services()
    for item in source_ids:
        deleted = app.sources.delete(item)
        click.echo(f"deleted source {deleted['id']} ({deleted['name']}, {deleted['documents']} documents)")


@click.command()
@click.argument("source_ids", metavar="[SOURCE]...", nargs=-1)
@click.option("--due", is_flag=True, help="Only the sources whose schedule says a sync is due.")
def sync(source_ids: tuple[str, ...], due: bool) -> None:
    """Read sources again (all of them, or SOURCE ids/locations): new and changed documents are indexed,
    unchanged ones skipped, documents gone upstream removed after SYNC_DELETE_GRACE_HOURS."""
    from application.ingest.documents import SourceError

    app = _services()
    catalogue = app.sources
    if source_ids:
        ids = [catalogue.find(item).id for item in source_ids]
    else:
        ids = catalogue.due() if due else [row["id"] for row in catalogue.list() if row["kind"] != "upload"]
    if not ids:
        click.echo("Nothing to sync." if due or catalogue.list() else "No sources yet: `docstune ingest PATH|URL`.")
        return
    failed = 0
    changed = False
    for source_id in ids:
        row = catalogue.get(source_id)
        progress = _progress(f"sync {row['name'][:40]}")
        try:
            report = catalogue.sync(source_id, progress=progress)
        except SourceError as exc:
            click.echo(f"failed: {row['name']}: {exc}", err=True)
            failed += 1
            continue
        finally:
            progress.close()
        _echo_report(report, row["location"])
        failed += bool(report.failed)
        changed = changed or bool(report.added or report.updated or report.removed)
    if changed:
        _label_free_after(app, "docstune sync")
    if failed:
        raise click.ClickException(f"{failed} source(s) could not be read in full (see above); "
                                   f"what could be read was synced.")


@click.group()
def documents() -> None:
    """Single documents: list them, delete one."""


@documents.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--source", "source", default=None, help="Only the documents of this source (id or location).")
def documents_list(as_json: bool, source: str | None) -> None:
    """Every ingested document with its chunk count."""
    app = _services()
    rows = app.documents.list()
    if source:
        wanted = app.sources.find(source).id
        rows = [row for row in rows if row["sync_source_id"] == wanted]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No documents yet: `docstune ingest PATH|URL`.")
    for row in rows:
        missing = "  (missing upstream)" if row["missing_since"] else ""
        click.echo(f"{row['id']}  {row['chunk_count']:>5} chunks  {row['kind']:<5}  {row['title']}  "
                   f"({row['uri']}){missing}")


@documents.command("delete")
@click.argument("documents_", metavar="ID_OR_PATH...", nargs=-1, required=True)
def documents_delete(documents_: tuple[str, ...]) -> None:
    """Remove documents, their chunks and their vectors."""
    app = _services()
    for item in documents_:
        deleted = app.documents.delete(item)
        click.echo(f"deleted {deleted['id']} ({deleted['uri']}, {deleted['chunk_count']} chunks)")


COMMANDS = [ingest, sources, sync, documents]
