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

from typing import Annotated, Any, Literal

from flask import jsonify, request
from pydantic import BaseModel, Field, PlainValidator, StrictInt

from application.api.context import AdminAuthRequired, docstune
from application.api.errors import client_text
from application.api.fields import JsonSchemaNow, Text, refuse, setting_value
from application.api.groups import EMBEDDINGS, describe
from application.errors import BadRequest, DocsTuneError, NotFound
from application.redaction import shown_uri
from application.request_values import unicode_problem

bp = EMBEDDINGS.blueprint("embeddings", __name__, tag="embeddings")
log = logging.getLogger(__name__)

ACTIVE_MODEL_ID = "active"
#: how many names an "unknown model" error lists before it says "..."
LISTED_NAMES = 12


@bp.before_request
def _require_key() -> None:
    """The key before anything else: a request without it learns nothing about its body."""
    state = docstune()
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

    app = docstune()
    serving = app.serving.current.embeddings
    if name in (None, "", ACTIVE_MODEL_ID):
        return name or ACTIVE_MODEL_ID, serving
    registry = registry_for(app.settings)
    if name == serving.fingerprint:
        return name, serving
    if is_version_name(name):
        try:
            version = registry.get(name)
        except RegistryError as exc:
            raise NotFound(f"Unknown model {name.strip()!r}: {exc}; {_accepted_names(serving, registry)}.") from exc
        try:
            return version.version, app.models.load(version.model_path)
        except Exception as exc:  # the server's paths are in the log, not in the answer
            log.warning("Model %s cannot be loaded for /v1/embeddings: %s", version.version, exc)
            raise NotFound(f"Model {version.version} cannot be loaded on this server (its files are missing or "
                           f"broken; the server log says why); {_accepted_names(serving, registry)}.") from exc
    if name in _backend_names():
        return name, serving if name == serving.name else app.models.load(name)
    looks_like_a_path = "/" in name or "\\" in name or name.startswith((".", "~"))
    what = "Model names are not paths" if looks_like_a_path else f"Unknown model {name[:80]!r}"
    raise NotFound(f"{what}; {_accepted_names(serving, registry)}.")


def _inputs(raw: Any) -> list[str]:
    """``input``: one text or a list of texts, never token ids, within EMBEDDINGS_MAX_INPUTS and
    EMBEDDINGS_MAX_INPUT_CHARS."""
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts = raw
    elif isinstance(raw, list) and raw and all(isinstance(t, (int, list)) for t in raw):
        raise refuse("input must be text, not token ids (with LangChain's OpenAIEmbeddings, "
                     "set check_embedding_ctx_length=False).", whole=True)
    else:
        raise refuse("input must be a non-empty string or a non-empty list of strings.", whole=True)
    most_inputs, most_chars = setting_value("embeddings_max_inputs"), setting_value("embeddings_max_input_chars")
    if len(texts) > most_inputs:
        raise refuse(f"{len(texts)} inputs in one request; the limit is {most_inputs} (EMBEDDINGS_MAX_INPUTS).",
                     whole=True)
    for i, text in enumerate(texts):
        name = f"input[{i}]" if isinstance(raw, list) else "input"
        problem = unicode_problem(text)  # the tokenizer needs UTF-8
        if problem:
            raise refuse(f"'{name}' cannot be used: {problem}.", whole=True)
        if not text.strip():
            raise refuse(f"{name} is empty.", whole=True)
        if len(text) > most_chars:
            raise refuse(f"{name} has {len(text)} characters; the limit is {most_chars} "
                         f"(EMBEDDINGS_MAX_INPUT_CHARS).", whole=True)
    return texts


def _text_schema() -> dict:
    return {"type": "string", "minLength": 1, "maxLength": setting_value("embeddings_max_input_chars")}


Inputs = Annotated[list[str], PlainValidator(_inputs), JsonSchemaNow(lambda: {
    "oneOf": [_text_schema(), {"type": "array", "items": _text_schema(), "minItems": 1,
                               "maxItems": setting_value("embeddings_max_inputs")}],
    "description": "Text, or up to EMBEDDINGS_MAX_INPUTS texts of up to EMBEDDINGS_MAX_INPUT_CHARS characters; "
                   "not token ids."})]


class EmbeddingRequest(BaseModel):
    """OpenAI's embeddings request; ``user`` and other fields are ignored."""

    input: Inputs
    model: Text(256, strip=False, empty_is_none=True) | None = Field(
        None, description="`active` (what serves the chat, the default), the serving model's fingerprint, a "
                          "registry version (`v0002`) or an embedding plugin's name; never a path.")
    encoding_format: Literal["float", "base64"] | None = Field(None, description="`float` (the default) or "
                                                                                 "`base64` (little-endian float32).")
    dimensions: StrictInt | None = Field(None, description="Must be the model's own dimension.")


class Embedding(BaseModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str = Field(description="The vector, or its float32 bytes in base64.")


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """One vector per input, in order."""

    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: Usage


class EmbeddingModel(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    name: str | None = Field(None, description="The serving model's name (`active` only).")
    fingerprint: str | None
    dimension: int | None = None
    status: str | None = Field(None, description="A registry version's status.")


class ModelList(BaseModel):
    """`active` first, then every registry version."""

    object: Literal["list"]
    data: list[EmbeddingModel]


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class OpenAIError(BaseModel):
    """Every failure on `/v1`, in OpenAI's shape (its clients show `message` to their users)."""

    error: OpenAIErrorDetail


describe(bp, OpenAIError)


def _encode(vector: list[float], encoding_format: str):
    if encoding_format == "base64":  # what the openai package asks for by default: little-endian float32
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return [float(x) for x in vector]


@bp.post("/v1/embeddings", operation_id="createEmbeddings", responses={200: EmbeddingList})
def create_embeddings(body: EmbeddingRequest):
    """Embed texts (OpenAI's embeddings API)"""
    model_id, backend = _model_for(body.model)
    if body.dimensions is not None and body.dimensions != backend.dimension:
        raise BadRequest(f"{model_id} makes {backend.dimension}-d vectors; it cannot shorten them to "
                         f"{body.dimensions}.")
    # documents, not queries: a RAG stack indexes with this, and asks with it too (no prefixes differ by default)
    vectors = backend.embed_documents(body.input)
    counter = getattr(backend, "count_tokens", None)
    tokens = sum(counter(t) if counter else len(t.split()) for t in body.input)
    encoding_format = body.encoding_format or "float"
    return jsonify({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": _encode(v, encoding_format)}
                 for i, v in enumerate(vectors)],
        "model": model_id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })


@bp.get("/v1/models", operation_id="listEmbeddingModels", responses={200: ModelList})
def list_models():
    """The models `/v1/embeddings` serves"""
    from application.models_admin import registry_for

    app = docstune()
    now = int(time.time())
    serving = app.serving.current.embeddings
    # the serving name may be a folder on the server: its name only
    data = [{"id": ACTIVE_MODEL_ID, "object": "model", "created": now, "owned_by": "docstune",
             "name": shown_uri(serving.name), "fingerprint": serving.fingerprint, "dimension": serving.dimension}]
    registry = registry_for(app.settings)
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
