"""``docstune serve`` and ``docstune feedback export``; heavy imports stay inside the commands."""
from __future__ import annotations

import sys

import click


@click.command()
@click.option("--host", default=None, help="Interface to listen on (SERVE_HOST, default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (SERVE_PORT, default 7091).")
@click.option("--threads", type=int, default=None, help="Request threads (SERVE_THREADS, default 8).")
def serve(host: str | None, port: int | None, threads: int | None) -> None:
    """Run the chat API: one process, threads, Qdrant local (gunicorn inside)."""
    from application.api.auth import ensure_admin_token
    from application.serve import run_server
    from application.settings import Settings

    settings = Settings()
    from application.db import check_database

    check_database(settings.database_url_resolved)  # unreachable: one line here, not a worker's traceback
    token, created = ensure_admin_token(settings)
    if created:
        # printed this one time only; afterwards it is in the file
        click.echo(f"Admin token (saved to {settings.admin_token_file}, mode 0600; shown only now): {token}")
        note = ""
    elif settings.admin_token:
        note = "  Admin routes: Authorization: Bearer $ADMIN_TOKEN\n"
    else:
        note = f"  Admin routes: Authorization: Bearer $(cat {settings.admin_token_file})\n"
    run_server(
        settings,
        host or settings.serve_host,
        settings.serve_port if port is None else port,
        threads or settings.serve_threads,
        note,
    )


@click.group()
def feedback() -> None:
    """Ratings people gave to answers."""


@feedback.command("export")
@click.option("-o", "--output", default="-", show_default=True, help="File to write (atomically); - for stdout.")
def feedback_export(output: str) -> None:
    """Write the feedback JSONL that `training` reads: one object per rated message."""
    from application.chat.export import iter_feedback_jsonl, write_feedback_jsonl
    from application.cli import docstune

    db = docstune().db
    if output == "-":
        count = 0
        for line in iter_feedback_jsonl(db):
            sys.stdout.write(line)
            count += 1
    else:
        count = write_feedback_jsonl(db, output)
    click.echo(f"{count} rated message(s) exported{'' if output == '-' else ' to ' + output}.", err=True)


COMMANDS = [serve, feedback]
