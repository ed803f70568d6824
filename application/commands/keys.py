"""``docstune keys create | list | revoke``: the API keys DocsGPT's clients (its widget, its app) send."""
from __future__ import annotations

import json

import click


def _db():
    from application.cli import docstune

    return docstune().db


@click.group()
def keys():
    """API keys: each names who uses it, may limit the sources it searches, and owns its conversations."""


@keys.command("create")
@click.argument("name")
@click.option("--source", "sources", multiple=True, help="A source id the key may search (repeatable); default: all.")
@click.option("--json", "as_json", is_flag=True, help="Print the key and its fields as JSON.")
def create(name: str, sources: tuple[str, ...], as_json: bool) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    from application.chat.api_keys import create_api_key

    created = create_api_key(_db(), name, list(sources) or None)
    if as_json:
        click.echo(json.dumps(created, indent=1))
        return
    scope = ", ".join(created["sources"]) if created["sources"] else "all sources"
    click.echo(f"Created API key {created['id']} ({created['name']}; {scope}). Keep it now, it is not shown again:")
    click.echo(created["key"])


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """Every key: id, name, first characters, sources, last use."""
    from application.chat.api_keys import list_api_keys

    rows = list_api_keys(_db())
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo("No API keys yet: `docstune keys create NAME`.")
    for row in rows:
        scope = ",".join(row["sources"]) if row["sources"] else "all sources"
        click.echo(f"{row['id']}  {row['prefix']}…  {row['name']}  ({scope}; last used {row['last_used_at'] or 'never'})")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Delete the key KEY_ID: requests with it are refused from now on; its conversations stay."""
    from application.chat.api_keys import revoke_api_key

    revoked = revoke_api_key(_db(), key_id)
    click.echo(f"Revoked API key {revoked['id']} ({revoked['name']}).")


COMMANDS = [keys]
