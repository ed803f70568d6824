"""OpenAI-compatible embeddings: ``POST /v1/embeddings`` and ``GET /v1/models``.

Other RAG stacks can use the fine-tuned model as is: DocsGPT (``EMBEDDINGS_BASE_URL``),
LangChain's ``OpenAIEmbeddings(base_url=..., check_embedding_ctx_length=False)``, the
``openai`` package. ``model`` is ``active`` (what serves the chat, the default), the
serving model's fingerprint, a registry version (``v0003``, ``3``) or a backend name an
embedding plugin registers (``all-MiniLM-L6-v2``); never a path. Guarded by
``EMBEDDINGS_API_KEY`` (or the admin token).
"""
from __future__ import annotations

import base64
import hmac
import logging
import struct
import time

from flask import Blueprint, jsonify, request

from application.api.context import AdminAuthRequired, chat_state, get_services, json_body
from application.api.errors import client_text
from application.errors import BadRequest, DocsTuneError, NotFound
from application.redaction import shown_uri
from application.request_values import check_unicode

bp = Blueprint("embeddings", __name__)
log = logging.getLogger(__name__)

ACTIVE_MODEL_ID = "active"
#: how many names an "unknown model" error lists before it says "..."
LISTED_NAMES = 12


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


def _backend_names() -> list[str]:
    """The names embedding plugins register exactly (not the folders a plugin would claim)."""
    from plugins import get_registry

    return sorted(get_registry().models)


def _accepted_names(serving, registry) -> str:
    names = [f"'{ACTIVE_MODEL_ID}' (the serving model)", serving.fingerprint,
             *(v.version for v in registry.versions()), *_backend_names()]
    shown = ", ".join(names[:LISTED_NAMES]) + (", ..." if len(names) > LISTED_NAMES else "")
    return f"this server accepts {shown} (GET /v1/models lists them)"


def _model_for(name) -> tuple[str, object]:
    """(model id to answer with, backend) for the request's ``model``: the serving model, a registry
    version or a plugin's backend name. A path is never one: it is refused, not read."""
    from application.models_admin import registry_for
    from training.registry import RegistryError, is_version_name

    services = get_services()
    serving = services.index.embeddings
    if name in (None, "", ACTIVE_MODEL_ID):
        return name or ACTIVE_MODEL_ID, serving
    registry = registry_for(services.settings)
    if not isinstance(name, str):
        raise BadRequest(f"model must be a string; {_accepted_names(serving, registry)}.")
    check_unicode(name, "model")
    if name == serving.fingerprint:
        return name, serving
    if is_version_name(name):
        try:
            version = registry.get(name)
        except RegistryError as exc:
            raise NotFound(f"Unknown model {name.strip()!r}: {exc}; {_accepted_names(serving, registry)}.") from exc
        try:
            return version.version, services.load_model(version.model_path)
        except Exception as exc:  # the server's paths are in the log, not in the answer
            log.warning("Model %s cannot be loaded for /v1/embeddings: %s", version.version, exc)
            raise NotFound(f"Model {version.version} cannot be loaded on this server (its files are missing or "
                           f"broken; the server log says why); {_accepted_names(serving, registry)}.") from exc
    if name in _backend_names():
        return name, serving if name == serving.name else services.load_model(name)
    looks_like_a_path = "/" in name or "\\" in name or name.startswith((".", "~"))
    what = "Model names are not paths" if looks_like_a_path else f"Unknown model {name[:80]!r}"
    raise NotFound(f"{what}; {_accepted_names(serving, registry)}.")


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
        check_unicode(text, f"input[{i}]" if isinstance(raw, list) else "input")  # the tokenizer needs UTF-8
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
    from application.models_admin import registry_for

    services = get_services()
    now = int(time.time())
    serving = services.index.embeddings
    # the serving name may be a folder on the server: its name only
    data = [{"id": ACTIVE_MODEL_ID, "object": "model", "created": now, "owned_by": "docstune",
             "name": shown_uri(serving.name), "fingerprint": serving.fingerprint, "dimension": serving.dimension}]
    registry = registry_for(services.settings)
    for version in registry.versions():
        data.append({"id": version.version, "object": "model", "created": now, "owned_by": "docstune",
                     "fingerprint": version.fingerprint, "status": registry.status_of(version)})
    return jsonify({"object": "list", "data": data})


OPENAI_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
                      429: "rate_limit_error"}


def openai_error_type(status: int) -> str:
    """The ``type`` OpenAI gives an error of this HTTP status (any other 4xx is the client's request)."""
    if status in OPENAI_ERROR_TYPES:
        return OPENAI_ERROR_TYPES[status]
    return "invalid_request_error" if 400 <= status < 500 else "server_error"


@bp.errorhandler(DocsTuneError)
def openai_style_error(exc: DocsTuneError):
    """OpenAI's error shape, ``{"error": {"message", "type", "code"}}``, which its clients show to users."""
    response = jsonify({"error": {"message": client_text(exc.message), "type": openai_error_type(exc.status_code),
                                  "code": exc.status_code}})
    return response, exc.status_code
