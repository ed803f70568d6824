"""The web UI: the built React app (``frontend/dist``) at ``/``, with client routes
(``/c/<conversation id>``, ``/admin/...``) answered by its ``index.html``.

Only these paths are served here, so nothing under ``/api``, ``/stream``, ``/health``,
``/ready`` or ``/v1`` is ever shadowed. ``app.config["WEB_DIST_DIR"]`` points at another
build (tests, packaged installs)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory
from werkzeug.exceptions import NotFound

bp = Blueprint("web", __name__)

DEFAULT_DIST_DIR = Path(__file__).resolve().parents[2] / "frontend" / "dist"

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>DocsTune</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem">
<h1>DocsTune</h1>
<p>The API is running, but the web UI has not been built.</p>
<p>Run <code>make run</code> (it builds the UI and starts the server), or build it by hand:
<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, then reload this page.</p>
<p>The API itself works now: see <code>docs/api.md</code>, or try <a href="/health">/health</a>.</p>
</body></html>
"""


@bp.record_once
def _exempt_from_rate_limits(state) -> None:
    # static files are not what the limits protect; a page load fetches several
    limiter = state.app.extensions.get("docstune_limiter")
    if limiter is not None:
        limiter.exempt(bp)


def dist_dir() -> Path:
    return Path(current_app.config.get("WEB_DIST_DIR") or DEFAULT_DIST_DIR)


@bp.get("/")
@bp.get("/c/<path:conversation_id>")
@bp.get("/admin")
@bp.get("/admin/<path:page>")
def index(**_route) -> Response:
    dist = dist_dir()
    if not (dist / "index.html").is_file():
        return Response(NOT_BUILT, status=200, mimetype="text/html")
    response = send_from_directory(dist, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/assets/<path:filename>")
def assets(filename: str) -> Response:
    # Vite puts a content hash in every asset name, so they may be cached for good
    return send_from_directory(dist_dir() / "assets", filename, max_age=365 * 24 * 3600)


@bp.get("/favicon.svg")
def favicon() -> Response:
    if not (dist_dir() / "favicon.svg").is_file():
        raise NotFound("No favicon in this build.")
    return send_from_directory(dist_dir(), "favicon.svg", max_age=24 * 3600)
