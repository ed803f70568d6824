"""OpenAI-compatible embeddings: ``POST /v1/embeddings`` and ``GET /v1/models``.

Other RAG stacks can use the fine-tuned model as is: DocsGPT (``EMBEDDINGS_BASE_URL``),
LangChain's ``OpenAIEmbeddings(base_url=..., check_embedding_ctx_length=False)``, the
``openai`` package. ``model`` is ``active`` (what serves the chat, the default), the
serving model's name, or a registry version (``v0003``). Guarded by
``EMBEDDINGS_API_KEY`` (or the admin token).
"""
from __future__ import annotations

import base64
import hmac
import struct
import time

from flask import Blueprint, jsonify, request

from application.api.context import AdminAuthRequired, chat_state, get_services, json_body
from application.errors import BadRequest, DocsTuneError, NotFound

bp = Blueprint("embeddings", __name__)

ACTIVE_MODEL_ID = "active"


def _require_key() -> None:
    state = chat_state()
    keys = [k for k in (state.settings.embeddings_api_key, state.admin_token) if k]
    if not keys:
        raise AdminAuthRequired("The embeddings API needs a key and none is set: set EMBEDDINGS_API_KEY "
                                "(or ADMIN_TOKEN) on the server.")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip().encode()
    if scheme.lower() != "bearer" or not any(hmac.compare_digest(given, k.encode()) for k in keys):
        raise AdminAuthRequired("This route needs 'Authorization: Bearer <EMBEDDINGS_API_KEY>'.")


def _model_for(name) -> tuple[str, object]:
    """(model id to answer with, backend) for the request's ``model``."""
    from application.jobs.swaps import get_version

    services = get_services()
    index = services.index
    if name in (None, "", ACTIVE_MODEL_ID, index.embeddings.name, index.embeddings.fingerprint):
        return name or ACTIVE_MODEL_ID, index.embeddings
    if not isinstance(name, str):
        raise BadRequest("model must be a string: 'active' or a registry version such as 'v0002'.")
    try:
        version = get_version(services.settings, name)
    except NotFound as exc:
        raise NotFound(f"Unknown model {name!r}; GET /v1/models lists the ones served here.") from exc
    try:
        return version.version, services.load_model(version.model_path)
    except Exception as exc:
        raise NotFound(f"Model {version.version} cannot be loaded: {exc}") from exc


def _inputs(body: dict, settings) -> list[str]:
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts = raw
    elif isinstance(raw, list) and raw and all(isinstance(t, (int, list)) for t in raw):
        raise BadRequest("input must be text, not token ids (with LangChain's OpenAIEmbeddings, "
                         "set check_embedding_ctx_length=False).")
    else:
        raise BadRequest("input must be a non-empty string or a non-empty list of strings.")
    if len(texts) > settings.embeddings_max_inputs:
        raise BadRequest(f"{len(texts)} inputs in one request; the limit is {settings.embeddings_max_inputs} "
                         f"(EMBEDDINGS_MAX_INPUTS).")
    for i, text in enumerate(texts):
        if not text.strip():
            raise BadRequest(f"input[{i}] is empty.")
        if len(text) > settings.embeddings_max_input_chars:
            raise BadRequest(f"input[{i}] has {len(text)} characters; the limit is "
                             f"{settings.embeddings_max_input_chars} (EMBEDDINGS_MAX_INPUT_CHARS).")
    return texts


def _encode(vector: list[float], encoding_format: str):
    if encoding_format == "base64":  # what the openai package asks for by default: little-endian float32
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return [float(x) for x in vector]


@bp.post("/v1/embeddings")
def create_embeddings():
    _require_key()
    body = json_body()
    settings = chat_state().settings
    texts = _inputs(body, settings)
    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in ("float", "base64"):
        raise BadRequest("encoding_format must be 'float' or 'base64'.")
    model_id, backend = _model_for(body.get("model"))
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != backend.dimension:
        raise BadRequest(f"{model_id} makes {backend.dimension}-d vectors; it cannot shorten them to {dimensions}.")
    # documents, not queries: a RAG stack indexes with this, and asks with it too (no prefixes differ by default)
    vectors = backend.embed_documents(texts)
    counter = getattr(backend, "count_tokens", None)
    tokens = sum(counter(t) if counter else len(t.split()) for t in texts)
    return jsonify({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": _encode(v, encoding_format)}
                 for i, v in enumerate(vectors)],
        "model": model_id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


@bp.get("/v1/models")
def list_models():
    _require_key()
    from application.jobs.swaps import registry_for

    services = get_services()
    now = int(time.time())
    serving = services.index.embeddings
    data = [{"id": ACTIVE_MODEL_ID, "object": "model", "created": now, "owned_by": "docstune",
             "name": serving.name, "fingerprint": serving.fingerprint, "dimension": serving.dimension}]
    registry = registry_for(services.settings)
    for version in registry.versions():
        data.append({"id": version.version, "object": "model", "created": now, "owned_by": "docstune",
                     "fingerprint": version.fingerprint, "status": registry.status_of(version)})
    return jsonify({"object": "list", "data": data})


@bp.errorhandler(DocsTuneError)
def openai_style_error(exc: DocsTuneError):
    """OpenAI's error shape, ``{"error": {"message", "type", "code"}}``, which its clients show to users."""
    kinds = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
    response = jsonify({"error": {"message": exc.message, "type": kinds.get(exc.status_code, "server_error"),
                                  "code": exc.status_code}})
    return response, exc.status_code
