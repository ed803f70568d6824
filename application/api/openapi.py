"""The OpenAPI 3.1 description of the HTTP API, generated from the request and response models beside each
route (flask-openapi3) and served at ``GET /api/openapi.json`` (public, no token).

What is written here is what no route declares: the title, the tags, the security schemes. The bounds that are
settings (``MAX_QUESTION_CHARS``, ``MAX_CHUNKS``, ...) are the serving app's: the request bodies' schemas are
built again in the app (flask-openapi3 builds them once, at import, with the defaults).

Example::

    curl http://127.0.0.1:7091/api/openapi.json > docstune-openapi.json
"""
from __future__ import annotations

import copy
from typing import get_type_hints

from flask import current_app, jsonify
from flask_openapi3 import Info, License, Tag
from flask_openapi3.utils import normalize_name
from pydantic import BaseModel

from application.api.groups import ANYONE, ERROR_REASONS, error_responses

TAGS = [
    Tag(name="chat", description="Ask, search, rate (anyone; conversations belong to their owner)."),
    Tag(name="conversations", description="A client's own conversations (and DocsGPT's names for them)."),
    Tag(name="embeddings", description="OpenAI-compatible embeddings with the serving model."),
    Tag(name="admin", description="Documents, jobs, models, evaluation, API keys (admin token)."),
    Tag(name="health", description="Liveness and readiness; this description."),
    Tag(name="web", description="The web UI (HTML and its assets)."),
]

SECURITY_SCHEMES = {
    "adminToken": {
        "type": "http", "scheme": "bearer",
        "description": "`Authorization: Bearer <ADMIN_TOKEN>` (or the token `docstune serve` stored in "
                       "DATA_DIR/admin_token). Admin routes only.",
    },
    "ownerToken": {
        "type": "apiKey", "in": "header", "name": "X-Owner-Token",
        "description": "The client's own secret (8-256 characters of letters, digits and `._~+/=-`): whoever "
                       "sends it owns the conversations it started. A client without one gets one on its first "
                       "question, in this header of the reply.",
    },
    "ownerCookie": {
        "type": "apiKey", "in": "cookie", "name": "docstune_owner",
        "description": "The same owner token as an HttpOnly, SameSite=Lax cookie (what the web UI uses). "
                       "Writes from another site's page cannot use it.",
    },
    "apiKey": {
        "type": "http", "scheme": "bearer",
        "description": "A DocsGPT API key an admin created (`POST /api/admin/api_keys`), as "
                       "`Authorization: Bearer <key>` or `api_key` in the JSON body; it owns the conversations "
                       "it starts and may search only its sources.",
    },
    "embeddingsKey": {
        "type": "http", "scheme": "bearer",
        "description": "`Authorization: Bearer <EMBEDDINGS_API_KEY>` (or the admin token).",
    },
}


class Error(BaseModel):
    """Every failure (outside ``/v1``): what happened and what to do."""

    error: str


def info() -> Info:
    return Info(
        title="DocsTune API",
        version=_package_version(),
        summary="Chat over your documents with an embedding model fine-tuned from feedback.",
        description=(
            "DocsGPT-compatible chat routes (`/stream`, `/api/answer`, conversations, feedback), admin routes "
            "(documents, jobs, models, evaluation, API keys) and OpenAI-compatible embeddings (`/v1`). Every "
            "error is JSON, `{\"error\": \"<what happened and what to do>\"}` (on `/v1`: OpenAI's "
            "`{\"error\": {\"message\", \"type\", \"code\"}}`). Request bodies are `application/json` "
            "(uploads: `multipart/form-data`); a write from another site's page that only the owner cookie "
            "authenticates is refused (403). See docs/api.md."
        ),
        license=License(name="MIT", identifier="MIT"),
    )


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docstune")
    except PackageNotFoundError:
        return "0.0.0"


bp = ANYONE.blueprint("openapi", __name__, tag="health")


@bp.get("/api/openapi.json", operation_id="openapi", summary="This description (OpenAPI 3.1)",
        responses={200: {"description": "The OpenAPI document.",
                         "content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi_json():
    return jsonify(openapi_document(current_app))


def openapi_document(app) -> dict:
    """The app's description as a dict: generated from its routes' models, with its settings' bounds."""
    document = app.extensions.get("docstune_openapi")
    if document is None:
        document = copy.deepcopy(app.api_doc)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(_request_body_schemas(app))
        for operations in document["paths"].values():
            for operation in operations.values():
                operation.setdefault("security", [])  # said outright: this route takes no credential
                if "description" in operation:
                    operation["description"] = _markdown(operation["description"])
        _share_error_responses(document)
        document["tags"] = [tag.model_dump(exclude_none=True) for tag in TAGS]
        app.extensions["docstune_openapi"] = document
    return document


def _share_error_responses(document: dict) -> None:
    """Each group's error responses once, in ``components/responses``, and a ``$ref`` to them per operation
    (flask-openapi3 writes them out in full on every operation: the description would be ten times larger)."""
    shared = {}
    for schema in ("Error", "OpenAIError"):
        for code, response in error_responses(*ERROR_REASONS, schema=schema).items():
            shared[repr(response)] = (f"{schema}{code}", response)
    used = document.setdefault("components", {}).setdefault("responses", {})
    for operations in document["paths"].values():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                name, _ = shared.get(repr(response), (None, None))
                if name is not None:
                    used[name] = response
                    operation["responses"][code] = {"$ref": f"#/components/responses/{name}"}


def _markdown(docstring_lines: str) -> str:
    """A view's docstring as flask-openapi3 joins its lines (``<br/>``) back into Markdown paragraphs."""
    paragraphs = []
    for part in docstring_lines.split("<br/><br/>"):
        text = ""
        for line in filter(None, (line.strip() for line in part.split("<br/>"))):
            # a list item starts a line of its own; any other line continues the paragraph
            text += ("\n" if line.startswith(("* ", "- ")) else " ") + line if text else line
        paragraphs.append(text)
    return "\n\n".join(paragraphs).strip()


def _request_body_schemas(app) -> dict:
    """The JSON schemas of the routes' body models, built now: their bounds are ``app``'s settings."""
    schemas = {}
    for view in app.view_functions.values():
        declared = getattr(view, "__wrapped__", None)
        if getattr(declared, "view", None) is not view:
            continue  # not a route declared with models (flask-openapi3 marks its views so)
        body = get_type_hints(declared).get("body")
        if body is not None:
            schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[normalize_name(schema.get("title") or body.__name__)] = schema  # flask-openapi3's name
    return schemas
