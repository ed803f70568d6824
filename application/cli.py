"""The ``docstune`` command: thin click commands over the ``application.container.DocsTune`` container.

Heavy modules (torch, sentence-transformers, Qdrant) are imported inside the
commands, so ``docstune --help`` answers at once.
"""
from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from application.container import DocsTune

COMMAND_MODULES = ("application.commands.sources", "application.commands.training", "application.commands.chat", "application.commands.jobs",
                   "application.commands.evaluation", "application.commands.keys")


class DocsTuneGroup(click.Group):
    """Turns every DocsTune error into one readable line and exit code 1."""

    def invoke(self, ctx):
        from plugins.base import EmbeddingModelError

        try:
            return super().invoke(ctx)
        except EmbeddingModelError as exc:
            raise click.ClickException(str(exc)) from exc
        except Exception as exc:
            from application.errors import DocsTuneError, database_unavailable

            if isinstance(exc, DocsTuneError):
                raise click.ClickException(exc.message) from exc
            database_error = database_unavailable(exc)  # a full disk, a read-only file: one line, not a traceback
            if database_error is not None:
                detail = f" ({database_error.detail})" if database_error.detail else ""
                raise click.ClickException(database_error.message + detail) from exc
            raise


@click.group(cls=DocsTuneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log more (INFO level).")
@click.version_option(package_name="docstune")
def main(verbose: bool) -> None:
    """DocsTune: chat over your documents with an embedding model that learns from feedback."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr
    )


def docstune() -> DocsTune:
    """One container per command run, built from the environment and closed when the command ends."""
    root = click.get_current_context().find_root()
    if root.obj is None:
        from application.container import DocsTune
        from application.settings import Settings

        root.obj = DocsTune(Settings())
        root.call_on_close(root.obj.close)
    return root.obj


class TqdmProgress:
    """A ``progress(done, total)`` callback drawing a tqdm bar."""

    def __init__(self, desc: str, unit: str):
        self.desc, self.unit, self.bar = desc, unit, None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, disable=total == 0)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _print_hits(hits, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([h.to_dict() for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo("No results (is anything ingested? `docstune documents list`).")
    from application.ingest.documents import heading_path

    for hit in hits:
        where = (f", page {hit.page}" if hit.page else "") + (f", {hit.location}" if hit.location else "")
        title = heading_path(hit.title, hit.headings)
        click.echo(click.style(f"[{hit.rank}] {hit.score:.3f}  {title}{where}", bold=True) + f"  ({hit.uri})")
        text = " ".join(hit.text.split())
        click.echo("    " + (text[:300] + "…" if len(text) > 300 else text))


@main.command()
@click.argument("question", required=False)
@click.option("-k", "k", default=5, show_default=True, type=int, help="How many chunks to return.")
@click.option("--source", "source_ids", multiple=True, help="Only search these source ids (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the hits as JSON.")
@click.option("-i", "--interactive", is_flag=True, help="Ask questions in a loop (also when QUESTION is left out).")
def search(question: str | None, k: int, source_ids: tuple[str, ...], as_json: bool, interactive: bool) -> None:
    """Find the chunks that best answer QUESTION."""
    app = docstune()
    if question is not None and not interactive:
        _print_hits(app.serving.search(question, k, list(source_ids) or None), as_json)
        return
    from application.errors import BadRequest

    click.echo("Ask a question about your documents (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("? ")
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not question.strip():
            return
        try:
            _print_hits(app.serving.search(question, k, list(source_ids) or None), as_json)
        except BadRequest as exc:
            click.echo(f"Error: {exc}", err=True)


@main.command()
def reindex() -> None:
    """Embed every stored chunk with the configured model (EMBEDDINGS_NAME) and serve that index."""
    app = docstune()
    progress = TqdmProgress("re-indexing", "chunk")
    try:
        name = app.serving.reindex(progress=progress)
    finally:
        progress.close()
    click.echo(f"{app.documents.chunk_count()} chunks embedded into {name}; it is now the active collection.")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Check the database, the vector index, the model, the job queue and the LLM, and say where each is."""
    from application.readiness import dependency_report, worker_mode
    from application.redaction import Redactor

    app = docstune()
    checks = Redactor.of(app.settings).hide_secrets_in(dependency_report(app, worker_mode(app.settings)))
    if as_json:
        click.echo(json.dumps(checks, indent=2))
    else:
        for name, check in checks.items():
            if isinstance(check, dict):
                detail = ", ".join(f"{k}={v}" for k, v in check.items() if k not in ("ok", "error"))
                if check.get("error"):
                    detail = f"{check['error']} ({detail})"
                click.echo(f"{name:<13} {'ok' if check['ok'] else 'FAILING'}  {detail}")
    if not checks["ok"]:
        sys.exit(1)


def _add_plugin_commands() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):  # that part of DocsTune is not there yet
                continue
            raise
        for command in getattr(module, "COMMANDS", []):
            main.add_command(command)


_add_plugin_commands()

if __name__ == "__main__":  # pragma: no cover
    main()
