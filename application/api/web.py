"""The web UI: the built React app (``frontend/dist``) at ``/``, with client routes
(``/c/<conversation id>``, ``/admin/...``) answered by its ``index.html``.

Only these paths are served here, so nothing under ``/api``, ``/stream``, ``/health``,
``/ready`` or ``/v1`` is ever shadowed. ``app.config["WEB_DIST_DIR"]`` points at another
build (tests, packaged installs)."""
from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, send_from_directory
from pydantic import BaseModel, Field
from werkzeug.exceptions import NotFound

from application.api.groups import ANYONE, error_responses

bp = ANYONE.blueprint("web", __name__, tag="web")

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


def dist_dir() -> Path:
    return Path(current_app.config.get("WEB_DIST_DIR") or DEFAULT_DIST_DIR)


PAGE = {200: {"description": "The web UI's page (or a note that it has not been built).",
               "content": {"text/html": {"schema": {"type": "string"}}}}}
FILE = {200: {"description": "A file of the build.", "content": {"*/*": {"schema": {"type": "string"}}}},
        **error_responses(404)}


SLASHES = " It may contain `/` (send it as is, or percent-encoded)."


class ConversationPage(BaseModel):
    conversation_id: str = Field(description="A conversation id." + SLASHES)


class AdminPage(BaseModel):
    page: str = Field(description="The page." + SLASHES)


class AssetPath(BaseModel):
    filename: str = Field(description="The asset." + SLASHES)


@bp.get("/", operation_id="webIndex", responses=PAGE)
def index() -> Response:
    """The web UI"""
    dist = dist_dir()
    if not (dist / "index.html").is_file():
        return Response(NOT_BUILT, status=200, mimetype="text/html")
    response = send_from_directory(dist, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


# client routes of the React app: its index.html, which reads the path itself
@bp.get("/c/<path:conversation_id>", operation_id="webConversation", responses=PAGE)
def conversation_page(path: ConversationPage) -> Response:
    """The web UI on one conversation"""
    return index()


@bp.get("/admin", operation_id="webAdmin", responses=PAGE)
def admin() -> Response:
    """The web UI's admin pages"""
    return index()


@bp.get("/admin/<path:page>", operation_id="webAdminPage", responses=PAGE)
def admin_page(path: AdminPage) -> Response:
    """One admin page of the web UI"""
    return index()


@bp.get("/assets/<path:filename>", operation_id="webAsset", responses=FILE)
def assets(path: AssetPath) -> Response:
    """A built asset (cached for good)"""
    # Vite puts a content hash in every asset name, so they may be cached for good
    return send_from_directory(dist_dir() / "assets", path.filename, max_age=365 * 24 * 3600)


@bp.get("/favicon.svg", operation_id="webFavicon", responses=FILE)
def favicon() -> Response:
    """The icon"""
    if not (dist_dir() / "favicon.svg").is_file():
        raise NotFound("No favicon in this build.")
    return send_from_directory(dist_dir(), "favicon.svg", max_age=24 * 3600)
