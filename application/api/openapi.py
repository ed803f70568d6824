"""The OpenAPI 3.1 description of the HTTP API, served at ``GET /api/openapi.json`` (public, no token).

Every route of the app is described here, once: the test in ``tests/application/api/test_openapi.py`` fails
when a route exists that is not described (or a description names a route that does not exist). The bounds
in the request schemas are the serving app's settings (``MAX_QUESTION_CHARS``, ``MAX_CHUNKS``, ...), and the
other limits are imported from the modules that enforce them, so the description cannot drift from the checks.

Example::

    curl http://127.0.0.1:7091/api/openapi.json > docstune-openapi.json
"""
from __future__ import annotations

from flask import Blueprint, jsonify

from application.api.context import get_settings

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.1.0"

# the security requirements of the three kinds of route ({} means "without any": the scheme is optional)
PUBLIC_CHAT = [{}, {"ownerToken": []}, {"ownerCookie": []}, {"apiKey": []}]
ADMIN = [{"adminToken": []}]
EMBEDDINGS = [{"embeddingsKey": []}]
ANYONE: list = []


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(openapi_document(get_settings()))


def openapi_document(settings=None) -> dict:
    """The description as a dict, with the request bounds of ``settings`` (default: the defaults)."""
    if settings is None:
        from application.settings import Settings

        settings = Settings()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "DocsTune API",
            "version": _package_version(),
            "summary": "Chat over your documents with an embedding model fine-tuned from feedback.",
            "description": (
                "DocsGPT-compatible chat routes (`/stream`, `/api/answer`, conversations, feedback), admin routes "
                "(documents, jobs, models, evaluation, API keys) and OpenAI-compatible embeddings (`/v1`). Every "
                "error is JSON, `{\"error\": \"<what happened and what to do>\"}` (on `/v1`: OpenAI's "
                "`{\"error\": {\"message\", \"type\", \"code\"}}`). Request bodies are `application/json` "
                "(uploads: `multipart/form-data`); a write from another site's page that only the owner cookie "
                "authenticates is refused (403). See docs/api.md."
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "chat", "description": "Ask, search, rate (anyone; conversations belong to their owner)."},
            {"name": "conversations", "description": "A client's own conversations (and DocsGPT's names for them)."},
            {"name": "embeddings", "description": "OpenAI-compatible embeddings with the serving model."},
            {"name": "admin", "description": "Documents, jobs, models, evaluation, API keys (admin token)."},
            {"name": "health", "description": "Liveness and readiness; this description."},
            {"name": "web", "description": "The web UI (HTML and its assets)."},
        ],
        "paths": _paths(settings),
        "components": {"schemas": _schemas(settings), "securitySchemes": SECURITY_SCHEMES},
    }


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("docstune")
    except PackageNotFoundError:
        return "0.0.0"


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


# -- building blocks ----------------------------------------------------------------
def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict, required: bool = True, description: str | None = None) -> dict:
    body = {"required": required, "content": {"application/json": {"schema": schema}}}
    if description:
        body["description"] = description
    return body


ERROR_REASONS = {
    400: "Bad input (the message says what is wrong); nothing was stored.",
    401: "A token or key is missing or wrong.",
    403: "A write from another site's page without an API key (or with only the owner cookie).",
    404: "Not found (someone else's conversation or message looks exactly like a missing one).",
    405: "This method does not change anything here; use the one the message names.",
    409: "Conflicts with a job in progress.",
    413: "The request is too large (MAX_CONTENT_LENGTH, UPLOAD_MAX_BYTES).",
    415: "The body is not `application/json`.",
    429: "Too many requests; wait and try again (`Retry-After`).",
    503: "A part the route needs is unavailable (database, job queue, vector store, model; admin routes "
         "without an admin token); nothing was stored.",
}


def _errors(*codes: int, schema: str = "Error") -> dict:
    return {str(code): _json(_ref(schema), ERROR_REASONS[code]) for code in codes}


def _op(operation_id: str, tag: str, summary: str, security: list, responses: dict, *,
        description: str | None = None, body: dict | None = None, parameters: list | None = None) -> dict:
    op = {"operationId": operation_id, "tags": [tag], "summary": summary, "security": security,
          "responses": responses}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
        # a parameter that is no text (a NUL, a lone surrogate) or no number where one is asked for
        responses.setdefault("400", _json(_ref("Error"), ERROR_REASONS[400]))
    if body:
        op["requestBody"] = body
    return op


def _path_param(name: str, description: str, slashes: bool = False) -> dict:
    if slashes:
        description += " It may contain `/` (send it as is, or percent-encoded)."
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def _digits(low: int, high: int, default: int) -> dict:
    return {"type": "string", "pattern": "^[0-9]+$", "default": str(default),
            "description": f"A whole number from {low} to {high} (ASCII digits)."}


# the usual error sets: public reads, public JSON writes, admin reads, admin writes
PUBLIC_READ_ERRORS = (400, 401, 429, 503)
PUBLIC_WRITE_ERRORS = (400, 401, 403, 404, 413, 415, 429, 503)
ADMIN_READ_ERRORS = (401, 429, 503)
ADMIN_WRITE_ERRORS = (400, 401, 403, 413, 415, 429, 503)


# -- the routes -----------------------------------------------------------------------
def _paths(settings) -> dict:
    paths: dict[str, dict] = {}
    for part in (_chat_paths, _conversation_paths, _docsgpt_app_paths, _embedding_paths, _admin_paths, _health_paths,
                 _web_paths):
        for path, operations in part(settings).items():
            paths.setdefault(path, {}).update(operations)
    return paths


def _chat_paths(settings) -> dict:
    answer_failed = _json(_ref("AnswerFailed"), "The LLM failed (unreachable, refused, timed out); the message "
                                                "is stored with status `failed`.")
    return {
        "/stream": {"post": _op(
            "stream", "chat", "Ask; the answer streams as Server-Sent Events", PUBLIC_CHAT,
            {"200": {"description": "`data: {json}\\n\\n` frames: `answer` (many), `source`, `id`, `end`, or one "
                                    "`error` (the LLM failed; the message is stored as `failed`).",
                     "headers": {"X-Owner-Token": {"description": "A new owner token, when the request had none.",
                                                   "schema": {"type": "string"}}},
                     "content": {"text/event-stream": {"schema": {
                         "type": "string", "description": "Each frame's JSON is a StreamEvent "
                                                          "(#/components/schemas/StreamEvent)."}}}},
             **_errors(*PUBLIC_WRITE_ERRORS)},
            description="Bad input is refused before streaming starts, with a 4xx JSON error and nothing stored.",
            body=_body(_ref("AnswerRequest")),
        )},
        "/api/answer": {"post": _op(
            "answer", "chat", "Ask; the whole answer as one JSON reply", PUBLIC_CHAT,
            {"200": _json(_ref("Answer"), "The answer with its sources."),
             **_errors(*PUBLIC_WRITE_ERRORS),
             "502": answer_failed, "504": answer_failed},
            body=_body(_ref("AnswerRequest")),
        )},
        "/api/search": {"post": _op(
            "search", "chat", "Retrieval only: the ranked chunks with their scores", PUBLIC_CHAT,
            {"200": _json({"type": "array", "items": _ref("SearchHit")}, "Ranked chunks, best first."),
             **_errors(*PUBLIC_WRITE_ERRORS)},
            body=_body(_ref("SearchRequest")),
        )},
        "/api/feedback": {"post": _op(
            "feedback", "chat", "Rate a message of yours (answer, sources, comment)", PUBLIC_CHAT,
            {"200": _json(_ref("Rating"), "The rating as it now stands."), **_errors(*PUBLIC_WRITE_ERRORS)},
            description="Posting again changes your rating; `null` clears a value; a rating with nothing left "
                        "is removed. DocsGPT's `{conversation_id, question_index}` names a message too.",
            body=_body(_ref("FeedbackRequest")),
        )},
    }


def _conversation_paths(settings) -> dict:
    conversation_id = _path_param("conversation_id", "A conversation id.")
    id_query = _query("id", "The conversation id.", {"type": "string", "minLength": 1}, required=True)
    read_errors = _errors(*PUBLIC_READ_ERRORS)
    deleted = _json(_ref("Deleted"), "Deleted, with its messages and ratings.")
    return {
        "/api/conversations": {"get": _op(
            "listConversations", "conversations", "Your conversations, newest first", PUBLIC_CHAT,
            {"200": _json({"type": "array", "items": _ref("ConversationSummary")}, "Yours (none: `[]`)."),
             **read_errors},
        )},
        "/api/conversations/{conversation_id}": {
            "get": _op("getConversation", "conversations", "One conversation with its messages", PUBLIC_CHAT,
                       {"200": _json(_ref("Conversation"), "The conversation."), **_errors(404), **read_errors},
                       parameters=[conversation_id]),
            "patch": _op("renameConversation", "conversations", "Rename a conversation", PUBLIC_CHAT,
                         {"200": _json(_ref("Renamed"), "The new name."), **_errors(*PUBLIC_WRITE_ERRORS)},
                         parameters=[conversation_id], body=_body(_ref("RenameRequest"))),
            "delete": _op("deleteConversation", "conversations", "Delete a conversation", PUBLIC_CHAT,
                          {"200": deleted, **_errors(*PUBLIC_WRITE_ERRORS)}, parameters=[conversation_id]),
        },
        "/api/get_conversations": {"get": _op(
            "docsgptGetConversations", "conversations", "DocsGPT: your conversations", PUBLIC_CHAT,
            {"200": _json({"type": "array", "items": {
                "type": "object", "required": ["id", "name"],
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}}}}, "Yours."),
             **read_errors},
        )},
        "/api/get_single_conversation": {"get": _op(
            "docsgptGetSingleConversation", "conversations", "DocsGPT: one conversation's messages", PUBLIC_CHAT,
            {"200": _json(_ref("DocsGPTConversation"), "Its messages (`queries`), in order."),
             **_errors(404), **read_errors},
            parameters=[id_query],
        )},
        "/api/delete_conversation": {"post": _op(
            "docsgptDeleteConversation", "conversations", "DocsGPT: delete a conversation", PUBLIC_CHAT,
            {"200": deleted, **_errors(*PUBLIC_WRITE_ERRORS)}, parameters=[id_query],
        )},
        "/api/update_conversation_name": {"post": _op(
            "docsgptUpdateConversationName", "conversations", "DocsGPT: rename a conversation", PUBLIC_CHAT,
            {"200": _json(_ref("Renamed"), "The new name."), **_errors(*PUBLIC_WRITE_ERRORS)},
            body=_body({"allOf": [_ref("RenameRequest")], "required": ["id", "name"],
                        "properties": {"id": {"type": "string", "description": "The conversation id."}}}),
        )},
        "/api/delete_all_conversations": {
            "post": _op("docsgptDeleteAllConversations", "conversations", "DocsGPT: delete all your conversations",
                        PUBLIC_CHAT,
                        {"200": _json({"type": "object", "required": ["deleted"],
                                       "properties": {"deleted": {"type": "integer", "minimum": 0}}},
                                      "How many were deleted (0 without an owner)."),
                         **_errors(*PUBLIC_WRITE_ERRORS)}),
            "get": _op("docsgptDeleteAllConversationsByGet", "conversations",
                       "DocsGPT's route name; a GET deletes nothing", PUBLIC_CHAT, _errors(405, 429),
                       description="Always 405: a link or an image on another site must not delete anything. "
                                   "Use POST."),
        },
    }


def _docsgpt_app_paths(settings) -> dict:
    from application.api.docsgpt_app import PROMPT_ID, TAIL_FIELDS

    text = {"type": "string"}

    def write(operation_id: str) -> dict:
        return {"post": _op(operation_id, "chat", "DocsGPT's app: change a prompt; DocsTune's one prompt is a file",
                            PUBLIC_CHAT, _errors(*PUBLIC_WRITE_ERRORS),
                            description="Always 404 (after the cross-site check): the prompt is the file "
                                        "`PROMPT_FILE` on the server.")}

    return {
        "/api/config": {"get": _op(
            "docsgptConfig", "chat", "DocsGPT's app: how it identifies its user", ANYONE,
            {"200": _json({"type": "object", "required": ["auth_type", "requires_auth"], "properties": {
                "auth_type": {"enum": [None, "simple_jwt"], "description": "`null` on this server's own origin "
                              "(the owner cookie); `simple_jwt` for a page of another site, where the app asks "
                              "for a token: an API key, sent as `Authorization: Bearer`."},
                "requires_auth": {"type": "boolean"}, "graphrag_available": {"const": False},
                "hybrid_available": {"const": False}}}, "The answer for this request's origin."),
             **_errors(429)},
        )},
        "/api/models": {"get": _op(
            "docsgptModels", "chat", "DocsGPT's app: the one LLM this server answers with", ANYONE,
            {"200": _json({"type": "object", "required": ["models", "default_model_id", "count"], "properties": {
                "models": {"type": "array", "minItems": 1, "maxItems": 1, "items": {
                    "type": "object", "required": ["id", "provider", "display_name"],
                    "properties": {"id": {**text, "description": "The LLM's name, as `model_id` of the "
                                                                  "stored answers."},
                                   "provider": {"enum": ["anthropic", "openai_compatible", "extractive"]},
                                   "display_name": text, "description": text,
                                   "supported_attachment_types": {"type": "array", "maxItems": 0},
                                   "context_window": {"type": "null"}}}},
                "default_model_id": text, "count": {"const": 1}}}, "The LLM."),
             **_errors(429)},
        )},
        "/api/get_prompts": {"get": _op(
            "docsgptGetPrompts", "chat", "DocsGPT's app: the prompts (DocsTune has one)", ANYONE,
            {"200": _json({"type": "array", "minItems": 1, "maxItems": 1, "items": {
                "type": "object", "required": ["id", "name", "type"],
                "properties": {"id": {"const": PROMPT_ID}, "name": {"const": PROMPT_ID},
                               "type": {"const": "public"}}}}, "The one prompt."),
             **_errors(429)},
        )},
        "/api/get_single_prompt": {"get": _op(
            "docsgptGetSinglePrompt", "chat", "DocsGPT's app: the prompt's text (the file PROMPT_FILE)", ANYONE,
            {"200": _json({"type": "object", "required": ["content"], "properties": {"content": text}},
                          "Its `[system]` and `[user]` sections."),
             **_errors(400, 404, 429)},
            parameters=[_query("id", f"`{PROMPT_ID}`.", {"type": "string", "minLength": 1}, required=True)],
        )},
        "/api/create_prompt": write("docsgptCreatePrompt"),
        "/api/update_prompt": write("docsgptUpdatePrompt"),
        "/api/delete_prompt": write("docsgptDeletePrompt"),
        "/api/messages/{message_id}/tail": {"get": _op(
            "docsgptMessageTail", "conversations", "DocsGPT's app: the state of a message of yours", PUBLIC_CHAT,
            {"200": _json({"type": "object", "required": ["message_id", "status"], "properties": {
                **{field: {} for field in TAIL_FIELDS}, "message_id": text,
                "status": {"enum": ["complete", "failed", "streaming"]}, "response": text,
                "error": {"type": ["string", "null"]}}},
                "As in `queries` of `/api/get_single_conversation`, with `error`."),
             **_errors(404), **_errors(*PUBLIC_READ_ERRORS)},
            description="The app polls it when it reopens a conversation whose last answer is being written. "
                        "A message a retry replaced reads as missing.",
            parameters=[_path_param("message_id", "A message id.")],
        )},
    }


def _embedding_paths(settings) -> dict:
    errors = _errors(400, 401, 403, 404, 413, 415, 429, 503, schema="OpenAIError")
    return {
        "/v1/embeddings": {"post": _op(
            "createEmbeddings", "embeddings", "Embed texts (OpenAI's embeddings API)", EMBEDDINGS,
            {"200": _json(_ref("EmbeddingList"), "One vector per input, in order."), **errors},
            description="`model` is `active` (what serves the chat, the default), the serving model's name or "
                        "fingerprint, or a registry version (`v0002`); never a path.",
            body=_body(_ref("EmbeddingRequest")),
        )},
        "/v1/models": {"get": _op(
            "listEmbeddingModels", "embeddings", "The models `/v1/embeddings` serves", EMBEDDINGS,
            {"200": _json(_ref("ModelList"), "`active` first, then every registry version."),
             **_errors(401, 429, 503, schema="OpenAIError")},
        )},
    }


def _admin_paths(settings) -> dict:
    job_id = _path_param("job_id", "A job id.")
    version = _path_param("version", "A registry version, such as `v0002`.")
    accepted = _json(_ref("JobAccepted"), "The job was queued; follow it at `/api/jobs/{job_id}`.")
    read = _errors(*ADMIN_READ_ERRORS)
    write = _errors(*ADMIN_WRITE_ERRORS)
    sync_source_id = _path_param("source_id", "A source's `id` (GET /api/admin/sources).")
    no_options = _body({"type": "object", "maxProperties": 0}, required=False,
                       description="Nothing, or `{}`: this job takes no options.")
    return {
        "/api/upload": {"post": _op(
            "upload", "admin", "Upload documents (ingested by a background job)", ADMIN,
            {"202": _json(_ref("UploadAccepted"), "The ingest job was queued."), **write},
            body={"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "properties": {"file": {"type": "array", "items": {"type": "string", "contentMediaType":
                                                                   "application/octet-stream"},
                                        "description": f"One or more documents ({', '.join(sorted(settings.upload_extension_set))}), "
                                                       f"at most {settings.upload_max_files} files of "
                                                       f"{settings.upload_max_bytes} bytes each."},
                               "files": {"type": "array", "items": {"type": "string", "contentMediaType":
                                                                    "application/octet-stream"},
                                         "description": "The same, under DocsGPT's field name."}}}}}},
        )},
        "/api/task_status": {"get": _op(
            "taskStatus", "admin", "DocsGPT's task view of a job", ADMIN,
            {"200": _json(_ref("TaskStatus"), "The job, Celery-style."), **_errors(400, 404), **read},
            parameters=[_query("task_id", "The `task_id` of an upload.", {"type": "string"}, required=True)],
        )},
        "/api/sources": {"get": _op(
            "listSources", "admin", "The ingested documents", ADMIN,
            {"200": _json({"type": "array", "items": _ref("Source")}, "Every document."), **read},
        )},
        "/api/sources/{source_id}": {"delete": _op(
            "deleteSource", "admin", "Remove a document, its chunks and vectors", ADMIN,
            {"200": _json({"type": "object"}, "What was removed."), **_errors(404), **write},
            parameters=[_path_param("source_id", "A source id or its uri (`upload://faq.md`).", slashes=True)],
        )},
        "/api/admin/sources": {
            "get": _op("listSyncSources", "admin", "The sources documents come from, with their syncs", ADMIN,
                       {"200": _json({"type": "array", "items": _ref("SyncSource")}, "Oldest first."), **read}),
            "post": _op("addSyncSource", "admin", "Add a web page, sitemap or site, or a git repository, and sync it",
                        ADMIN, {"202": _json(_ref("SyncAccepted"), "The source, and its first sync job."),
                                **_errors(409), **write},
                        body=_body(_ref("SyncSourceRequest")),
                        description="A folder on the server is added with `docstune ingest PATH`; a private, "
                                    "loopback or link-local address is refused unless WEB_ALLOW_PRIVATE is set."),
        },
        "/api/admin/sources/{source_id}": {
            "get": _op("getSyncSource", "admin", "One source", ADMIN,
                       {"200": _json(_ref("SyncSource"), "The source."), **_errors(404), **read},
                       parameters=[sync_source_id]),
            "patch": _op("updateSyncSource", "admin", "Change a source's schedule or name", ADMIN,
                         {"200": _json(_ref("SyncSource"), "The source as it is now."), **_errors(404), **write},
                         parameters=[sync_source_id], body=_body(_ref("SyncSourceUpdate"))),
            "delete": _op("deleteSyncSource", "admin", "Remove a source with its documents, chunks and vectors",
                          ADMIN, {"200": _json(_ref("SyncSourceDeleted"), "What was removed."),
                                  **_errors(404, 409), **write},
                          parameters=[sync_source_id]),
        },
        "/api/admin/sources/{source_id}/sync": {"post": _op(
            "syncSource", "admin", "Read a source again now (a job): only what changed is embedded", ADMIN,
            {"202": _json(_ref("SyncAccepted"), "The source, and its sync job."), **_errors(404, 409), **write},
            parameters=[sync_source_id],
        )},
        "/api/feedback/export": {"get": _op(
            "exportFeedback", "admin", "Every rating as JSONL (what training reads)", ADMIN,
            {"200": {"description": "One JSON object a line (docs/api.md, 'The feedback JSONL').",
                     "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
             **read},
        )},
        "/api/jobs": {"get": _op(
            "listJobs", "admin", "Background jobs, newest first", ADMIN,
            {"200": _json({"type": "object", "required": ["jobs"],
                           "properties": {"jobs": {"type": "array", "items": _ref("Job")}}}, "The jobs."),
             **_errors(400), **read},
            parameters=[_query("limit", "How many.", _digits(1, 500, 50)),
                        _query("kind", "Only jobs of this kind (ingest, reindex, retrain, promote, ...).",
                               {"type": "string"})],
        )},
        "/api/jobs/{job_id}": {"get": _op(
            "getJob", "admin", "One job", ADMIN, {"200": _json(_ref("Job"), "The job."), **_errors(404), **read},
            parameters=[job_id],
        )},
        "/api/jobs/{job_id}/cancel": {"post": _op(
            "cancelJob", "admin", "Cancel a job (queued: at once; running: at its next batch)", ADMIN,
            {"200": _json(_ref("Job"), "The job, with `cancel_requested`."), **_errors(404, 409), **write},
            parameters=[job_id],
        )},
        "/api/admin/models": {"get": _op(
            "listModels", "admin", "What serves, what is configured, what is being built, every version", ADMIN,
            {"200": _json(_ref("ModelsOverview"), "The overview."), **read},
        )},
        "/api/admin/models/{version}/report": {"get": _op(
            "modelReport", "admin", "A version's evaluation report", ADMIN,
            {"200": {"description": "Markdown.", "content": {"text/markdown": {"schema": {"type": "string"}}}},
             **_errors(404), **read},
            parameters=[version],
        )},
        "/api/admin/models/{version}/plot.png": {"get": _op(
            "modelPlot", "admin", "A version's evaluation plot", ADMIN,
            {"200": {"description": "PNG.", "content": {"image/png": {"schema": {
                "type": "string", "contentMediaType": "image/png"}}}},
             **_errors(404), **read},
            parameters=[version],
        )},
        "/api/admin/models/{version}/promote": {"post": _op(
            "promoteModel", "admin", "Serve a version (a swap job: re-embed, then switch with no downtime)", ADMIN,
            {"202": _json({"allOf": [_ref("JobAccepted")], "properties": {"version": {"type": "string"}}},
                          "The swap job was queued."),
             **_errors(404, 409), **write},
            parameters=[version],
            body=_body({"type": "object", "properties": {"force": {
                "type": "boolean", "default": False,
                "description": "Promote even when the gate did not say better."}}}, required=False),
        )},
        "/api/admin/models/rollback": {"post": _op(
            "rollbackModel", "admin", "Serve the previous model again", ADMIN,
            {"200": _json({"type": "object", "required": ["serving", "previous"],
                           "properties": {"serving": {"type": "object"}, "previous": {"type": "object"}}},
                          "What serves now and what served before."),
             **_errors(409), **write},
        )},
        "/api/admin/retrain": {"post": _op(
            "retrain", "admin", "Fine-tune a candidate model on the feedback (a job)", ADMIN,
            {"202": accepted, **write},
            body=_body(_ref("RetrainOptions"), required=False, description="Options; nothing: the defaults."),
        )},
        "/api/admin/tune": {"post": _op(
            "tune", "admin", "Fit the fusion weight of the serving pipeline on the rated questions (a job)",
            ADMIN, {"202": accepted, **write}, body=no_options,
        )},
        "/api/admin/feedback/stats": {"get": _op(
            "feedbackStats", "admin", "Feedback totals, per day, and the latest ratings", ADMIN,
            {"200": _json({"type": "object"}, "The statistics."), **_errors(400), **read},
            parameters=[_query("latest", "How many of the latest ratings to list.", _digits(0, 200, 20))],
        )},
        "/api/admin/evaluation": {"get": _op(
            "evaluationSummary", "admin", "The frozen evaluation set and the serving pipeline's latest score",
            ADMIN, {"200": _json(_ref("EvaluationSummary"), "The set."), **read},
        )},
        "/api/admin/evaluation/export": {"get": _op(
            "exportEvaluation", "admin", "The set as IR JSON over every stored chunk", ADMIN,
            {"200": _json(_ref("IRJson"), "IR JSON (`docstune eval --dataset` reads it)."), **read},
        )},
        "/api/admin/evaluation/import": {"post": _op(
            "importEvaluation", "admin", "Add IR JSON questions to the set", ADMIN,
            {"200": _json(_ref("EvaluationImport"), "What was added."), **write},
            description="Ids or exact chunk texts in `corpus` must match stored chunks.",
            body=_body(_ref("IRJson")),
        )},
        "/api/admin/evaluate": {"post": _op(
            "evaluate", "admin", "Add newly rated questions to the set and measure the serving pipeline (a job)",
            ADMIN, {"202": accepted, **write}, body=no_options,
        )},
        "/api/admin/api_keys": {
            "get": _op("listApiKeys", "admin", "The API keys (never the keys themselves)", ADMIN,
                       {"200": _json({"type": "array", "items": _ref("ApiKey")}, "Oldest first."), **read}),
            "post": _op("createApiKey", "admin", "Create an API key", ADMIN,
                        {"201": _json(_ref("ApiKeyCreated"), "The key: shown this once, never again."), **write},
                        body=_body(_ref("ApiKeyRequest"))),
        },
        "/api/admin/api_keys/{key_id}": {"delete": _op(
            "revokeApiKey", "admin", "Revoke an API key (its conversations stay)", ADMIN,
            {"200": _json(_ref("ApiKey"), "The key that was revoked."), **_errors(404), **write},
            parameters=[_path_param("key_id", "The key's `id` (not the key).")],
        )},
    }


def _health_paths(settings) -> dict:
    return {
        "/health": {"get": _op(
            "health", "health", "Liveness: the process answers", ANYONE,
            {"200": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
                          "Alive.")},
        )},
        "/ready": {"get": _op(
            "ready", "health", "Readiness: model, vector store, database, job queue and LLM", ANYONE,
            {"200": _json(_ref("Ready"), "Ready."), "503": _json(_ref("Ready"), "Not ready (`ok` is false).")},
        )},
        "/api/openapi.json": {"get": _op(
            "openapi", "health", "This description (OpenAPI 3.1)", ANYONE,
            {"200": _json({"type": "object", "required": ["openapi", "info", "paths"]}, "The description.")},
        )},
    }


def _web_paths(settings) -> dict:
    html = {"200": {"description": "The web UI's page (or a note that it has not been built).",
                    "content": {"text/html": {"schema": {"type": "string"}}}}}
    not_found = {"404": _json(_ref("Error"), "No such file in the build.")}
    asset = {"200": {"description": "A file of the build.", "content": {"*/*": {"schema": {"type": "string"}}}},
             **not_found}

    def page(operation_id: str, summary: str, parameters=None) -> dict:
        return {"get": _op(operation_id, "web", summary, ANYONE, html, parameters=parameters)}

    return {
        "/": page("webIndex", "The web UI"),
        "/c/{conversation_id}": page("webConversation", "The web UI on one conversation",
                                     [_path_param("conversation_id", "A conversation id.", slashes=True)]),
        "/admin": page("webAdmin", "The web UI's admin pages"),
        "/admin/{page}": page("webAdminPage", "One admin page of the web UI",
                              [_path_param("page", "The page.", slashes=True)]),
        "/assets/{filename}": {"get": _op("webAsset", "web", "A built asset (cached for good)", ANYONE, asset,
                                          parameters=[_path_param("filename", "The asset.", slashes=True)])},
        "/favicon.svg": {"get": _op("webFavicon", "web", "The icon", ANYONE, asset)},
    }


# -- the schemas ----------------------------------------------------------------------
def _schemas(settings) -> dict:
    from application.chat.answer import MAX_INDEX
    from application.chat.api_keys import NAME_CHARS
    from application.chat.conversations import MAX_NAME_CHARS
    from application.chat.feedback import MAX_COMMENT_CHARS
    from application.db.chat import MARKS, VERDICTS
    from application.db.models import SYNC_SCHEDULES, SYNC_SOURCE_KINDS
    from training.finetune import LOSSES
    from training.pipeline import TrainingOptions

    text = {"type": "string"}
    nullable_text = {"type": ["string", "null"]}
    number = {"type": "number"}
    nullable_number = {"type": ["number", "null"]}
    timestamp = {"type": ["string", "null"], "format": "date-time"}
    question = {"type": "string", "minLength": 1, "maxLength": settings.max_question_chars,
                "description": f"At most MAX_QUESTION_CHARS ({settings.max_question_chars}) characters."}

    def chunks(minimum: int) -> dict:
        return {"oneOf": [{"type": "integer", "minimum": minimum, "maximum": settings.max_chunks},
                          {"type": "string", "pattern": "^[0-9]+$"}],
                "default": 4, "description": f"Top-k, {minimum} to MAX_CHUNKS ({settings.max_chunks}); DocsGPT "
                                             "sends it as a string of ASCII digits."}

    api_key = {"type": "string", "minLength": 8, "maxLength": 256,
               "description": "An API key (instead of `Authorization: Bearer <key>`)."}
    source_fields = {
        "chunk_id": text, "n": {"type": "integer"}, "rank": {"type": "integer"}, "score": number,
        "dense_score": nullable_number, "lexical_score": nullable_number, "title": nullable_text,
        "source": nullable_text, "link": nullable_text, "page": {"type": ["integer", "null"]}, "text": text,
        "headings": {"type": "array", "items": text, "description": "The heading path below the title."},
        "location": {"type": ["string", "null"], "description": "Where beyond the page: \"slide 3\", \"sheet Sales, rows 2–41\"."},
    }
    retrain_options = {name: ({"type": "integer", "minimum": low, "maximum": high} if kind is int
                              else {"type": "number", "minimum": low, "maximum": high})
                       for name, kind, low, high in TrainingOptions.LIMITS}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": text},
                  "description": "What happened and what to do."},
        "OpenAIError": {"type": "object", "required": ["error"], "properties": {"error": {"oneOf": [
            {"type": "object", "required": ["message", "type", "code"],
             "properties": {"message": text, "type": text, "code": {"type": "integer"}}},
            text]}}},
        "AnswerFailed": {"allOf": [_ref("Error")], "required": ["conversation_id", "message_id"],
                         "properties": {"conversation_id": text, "message_id": text}},
        "AnswerRequest": {
            "type": "object", "required": ["question"],
            "properties": {
                "question": question,
                "conversation_id": {"type": ["string", "null"], "maxLength": 64,
                                    "description": "Continue one of your conversations (its answers become "
                                                   "the history)."},
                "history": {"oneOf": [{"type": "array", "items": _ref("HistoryTurn")},
                                      {"type": "string", "description": "The same list, as a JSON string."},
                                      {"type": "null"}],
                            "description": "Earlier turns; overrides the stored ones."},
                "chunks": {**chunks(0), "description": f"Top-k, 0 (answer without the documents) to "
                                                       f"MAX_CHUNKS ({settings.max_chunks}); DocsGPT sends it "
                                                       "as a string of ASCII digits."},
                "isNoneDoc": {"type": ["boolean", "null"],
                              "description": "DocsGPT's: true answers without searching the documents (unless "
                                             "an API key chooses them)."},
                "index": {"oneOf": [{"type": "integer", "minimum": 0, "maximum": MAX_INDEX},
                                    {"type": "string", "pattern": "^[0-9]+$"}, {"type": "null"}],
                          "description": "DocsGPT's retry/edit: the answer replaces the message at this position "
                                         "of `conversation_id` (and the later ones leave the conversation)."},
                "api_key": api_key,
            },
        },
        "HistoryTurn": {"type": "object", "required": ["prompt", "response"],
                        "properties": {"prompt": text, "response": text},
                        "description": "`question`/`answer` are accepted for `prompt`/`response`."},
        "SearchRequest": {"type": "object", "required": ["question"],
                          "properties": {"question": question, "chunks": chunks(1), "api_key": api_key}},
        "Source": {"type": "object", "required": ["id", "uri"],
                   "properties": {"id": text, "uri": text, "title": nullable_text, "kind": nullable_text,
                                  "content_hash": nullable_text, "size_bytes": {"type": ["integer", "null"]},
                                  "chunk_count": {"type": ["integer", "null"]}, "created_at": timestamp,
                                  "updated_at": timestamp, "sync_source_id": nullable_text,
                                  "origin": nullable_text, "missing_since": timestamp}},
        "SyncSource": {"type": "object", "required": ["id", "kind", "name", "location", "schedule", "status"],
                       "properties": {
                           "id": text, "kind": {"enum": list(SYNC_SOURCE_KINDS)}, "name": text,
                           "location": {"type": "string", "description": "A path or a URL (credentials hidden)."},
                           "schedule": {"enum": list(SYNC_SCHEDULES)},
                           "status": {"enum": ["new", "syncing", "ok", "partial", "failed"]},
                           "options": {"type": "object"}, "document_count": {"type": "integer"},
                           "chunk_count": {"type": "integer"},
                           "missing_count": {"type": "integer", "description": "Documents gone upstream, removed "
                                                                               "after SYNC_DELETE_GRACE_HOURS."},
                           "last_sync_at": timestamp, "next_sync_at": timestamp, "last_error": nullable_text,
                           "last_report": {"type": ["object", "null"]}, "created_at": timestamp,
                           "job": {"type": ["object", "null"]}}},
        "SyncSourceRequest": {"type": "object", "required": ["kind", "location"], "additionalProperties": False,
                              "properties": {
                                  "kind": {"enum": ["web", "git"]},
                                  "location": {"type": "string", "minLength": 1, "maxLength": 2048,
                                               "description": "An http(s) URL: a page, a sitemap, a site to "
                                                              "crawl, or a git repository."},
                                  "name": {"type": "string", "maxLength": 512},
                                  "schedule": {"enum": list(SYNC_SCHEDULES)},
                                  "options": {"type": "object", "properties": {
                                      "mode": {"enum": ["auto", "page", "sitemap", "crawl"]},
                                      "max_depth": {"type": "integer", "minimum": 0, "maximum": 50},
                                      "max_pages": {"type": "integer", "minimum": 0, "maximum": 100000},
                                      "branch": {"type": ["string", "null"]},
                                      "include": {"type": "array", "items": text, "maxItems": 50},
                                      "exclude": {"type": "array", "items": text, "maxItems": 50}}}}},
        "SyncSourceUpdate": {"type": "object", "additionalProperties": False, "properties": {
            "schedule": {"enum": list(SYNC_SCHEDULES)}, "name": {"type": "string", "minLength": 1, "maxLength": 512}}},
        "SyncSourceDeleted": {"type": "object", "required": ["id", "documents"], "properties": {
            "id": text, "name": text, "documents": {"type": "integer"}}},
        "SyncAccepted": {"type": "object", "required": ["source", "job_id"], "properties": {
            "source": _ref("SyncSource"), "job_id": text, "task_id": text}},
        "AnswerSource": {"type": "object", "required": ["chunk_id", "rank", "score", "text"],
                         "properties": {**source_fields, "cited": {"type": "boolean"}}},
        "SearchHit": {"type": "object", "required": ["chunk_id", "rank", "score", "text"],
                      "properties": {**source_fields, "source_id": text}},
        "StreamEvent": {"type": "object", "required": ["type"], "properties": {
            "type": {"enum": ["message_id", "answer", "source", "id", "end", "error"]}, "answer": text,
            "source": {"type": "array", "items": _ref("AnswerSource")}, "id": text, "message_id": text,
            "conversation_id": text, "error": text}},
        "Answer": {"type": "object", "required": ["conversation_id", "message_id", "answer", "sources"],
                   "properties": {"conversation_id": text, "message_id": text, "answer": text,
                                  "sources": {"type": "array", "items": _ref("AnswerSource")}}},
        "FeedbackRequest": {
            "type": "object",
            "properties": {
                "message_id": {"type": "string", "minLength": 1},
                "conversation_id": text,
                "question_index": {"oneOf": [{"type": "integer", "minimum": 0},
                                             {"type": "string", "pattern": "^[0-9]+$"}],
                                   "description": "The message's position in the conversation (DocsGPT)."},
                "feedback": {"enum": [*VERDICTS, *(v.upper() for v in VERDICTS), None]},
                "sources": {"type": "object", "additionalProperties": {"enum": [*MARKS, None]},
                            "description": "{chunk_id: mark}; the chunks must be ones retrieved for the message."},
                "comment": {"type": ["string", "null"], "maxLength": MAX_COMMENT_CHARS},
                "api_key": api_key,
            },
            "oneOf": [{"required": ["message_id"]},
                      {"required": ["conversation_id", "question_index"], "not": {"required": ["message_id"]}}],
            "anyOf": [{"required": ["feedback"]}, {"required": ["sources"]}, {"required": ["comment"]}],
        },
        "Rating": {"type": "object", "required": ["message_id", "feedback", "sources", "comment"],
                   "properties": {"message_id": text, "feedback": {"enum": [*VERDICTS, None]},
                                  "sources": {"type": "object", "additionalProperties": {"enum": list(MARKS)}},
                                  "comment": nullable_text}},
        "ConversationSummary": {"type": "object", "required": ["id", "name"],
                                "properties": {"id": text, "name": text, "created_at": timestamp,
                                               "updated_at": timestamp, "message_count": {"type": "integer"}}},
        "Conversation": {"type": "object", "required": ["id", "name", "messages"],
                         "properties": {"id": text, "name": text, "created_at": timestamp, "updated_at": timestamp,
                                        "messages": {"type": "array", "items": _ref("Message")}}},
        "Message": {"type": "object", "required": ["id", "question", "answer", "status"],
                    "properties": {
                        "id": text, "position": {"type": "integer"}, "question": text, "answer": text,
                        "status": {"enum": ["streaming", "ok", "partial", "failed"]}, "error": nullable_text,
                        "llm": nullable_text, "model_fingerprint": nullable_text,
                        "retrieval": {"type": ["object", "null"]}, "created_at": timestamp,
                        "completed_at": timestamp,
                        "sources": {"type": "array", "items": {
                            "type": "object", "required": ["chunk_id", "rank"],
                            "properties": {**source_fields, "shown": {"type": "boolean"},
                                           "cited": {"type": "boolean"}}}},
                        "feedback": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
                            "feedback": {"enum": [*VERDICTS, None]}, "sources": {"type": "object"},
                            "comment": nullable_text, "updated_at": timestamp}}]},
                    }},
        "DocsGPTConversation": {"type": "object", "required": ["queries"],
                                "properties": {"queries": {"type": "array", "items": _ref("DocsGPTMessage")}}},
        "DocsGPTMessage": {"type": "object", "required": ["prompt", "response", "message_id", "status"],
                           "properties": {"prompt": text, "response": text, "sources": {"type": "array"},
                                          "message_id": text, "status": text, "timestamp": timestamp,
                                          "feedback": {"enum": list(VERDICTS)}, "metadata": {"type": "object"}}},
        "RenameRequest": {"type": "object", "required": ["name"],
                          "properties": {"name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_CHARS}}},
        "Renamed": {"type": "object", "required": ["id", "name"], "properties": {"id": text, "name": text}},
        "Deleted": {"type": "object", "required": ["id", "deleted"],
                    "properties": {"id": text, "deleted": {"const": True}}},
        "EmbeddingRequest": {
            "type": "object", "required": ["input"],
            "properties": {
                "input": {"oneOf": [
                    {"type": "string", "minLength": 1, "maxLength": settings.embeddings_max_input_chars},
                    {"type": "array", "minItems": 1, "maxItems": settings.embeddings_max_inputs,
                     "items": {"type": "string", "minLength": 1,
                               "maxLength": settings.embeddings_max_input_chars}}],
                          "description": f"Text, or up to EMBEDDINGS_MAX_INPUTS ({settings.embeddings_max_inputs}) "
                                         f"texts of up to EMBEDDINGS_MAX_INPUT_CHARS "
                                         f"({settings.embeddings_max_input_chars}) characters; not token ids."},
                "model": {"type": ["string", "null"], "default": "active"},
                "encoding_format": {"enum": ["float", "base64", None], "default": "float"},
                "dimensions": {"type": ["integer", "null"], "description": "Must be the model's own dimension."},
                "user": text,
            },
        },
        "EmbeddingList": {"type": "object", "required": ["object", "data", "model", "usage"], "properties": {
            "object": {"const": "list"}, "model": text,
            "data": {"type": "array", "items": {
                "type": "object", "required": ["object", "index", "embedding"],
                "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"},
                               "embedding": {"oneOf": [{"type": "array", "items": number},
                                                       {"type": "string", "contentEncoding": "base64"}]}}}},
            "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"},
                                                       "total_tokens": {"type": "integer"}}}}},
        "ModelList": {"type": "object", "required": ["object", "data"], "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"type": "object", "required": ["id", "object"],
                                                "properties": {"id": text, "object": {"const": "model"}}}}}},
        "Job": {"type": "object", "required": ["id", "kind", "status"], "properties": {
            "id": text, "kind": text, "status": text, "progress": {"type": "object"}, "created_at": timestamp,
            "started_at": timestamp, "finished_at": timestamp, "error": nullable_text, "result": {},
            "params": {"type": "object"}, "cancel_requested": {"type": "boolean"}}},
        "JobAccepted": {"type": "object", "required": ["job_id", "status"],
                        "properties": {"job_id": text, "status": text}},
        "UploadAccepted": {"type": "object", "required": ["task_id", "job_id", "status", "files"],
                           "properties": {"task_id": text, "job_id": text, "status": text,
                                          "files": {"type": "array", "items": text}}},
        "TaskStatus": {"type": "object", "required": ["task_id", "status"], "properties": {
            "task_id": text, "job_id": text, "kind": text,
            "status": {"enum": ["PENDING", "PROGRESS", "SUCCESS", "FAILURE"]}, "job_status": text,
            "progress": {"type": "object"}, "result": {}, "error": nullable_text}},
        "ModelsOverview": {"type": "object", "required": ["serving", "versions"],
                           "properties": {"serving": {"type": "object"}, "evaluation": {"type": "object"},
                                          "configured": {"type": "object"}, "pending": {"type": ["object", "null"]},
                                          "versions": {"type": "array", "items": {"type": "object"}}}},
        "RetrainOptions": {"type": "object", "additionalProperties": False, "properties": {
            "loss": {"enum": list(LOSSES)}, **retrain_options, "hard_negatives": {"type": "boolean"},
            "include_synthetic": {"type": "boolean"}, "auto_promote": {"type": "boolean"}}},
        "EvaluationSummary": {"type": "object", "required": ["questions"],
                              "properties": {"questions": {"type": "integer"}}},
        "IRJson": {"type": "object", "required": ["queries", "corpus", "relevant_docs"], "properties": {
            "queries": {"type": "object", "additionalProperties": text,
                        "description": "{question id: question}"},
            "corpus": {"type": "object", "additionalProperties": text, "description": "{chunk id: chunk text}"},
            "relevant_docs": {"type": "object", "additionalProperties": {
                "oneOf": [{"type": "array", "items": text}, text, {"type": "object"}]},
                "description": "{question id: [chunk id, ...]} (one id, or BEIR's {id: score}, also)"}}},
        "EvaluationImport": {"type": "object", "required": ["added"], "properties": {
            "added": {"type": "integer"}, "already_there": {"type": "integer"}, "unmatched": {},
            "questions": {"type": "integer"}}},
        "ApiKeyRequest": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_CHARS,
                     "description": "Who uses the key (printable characters)."},
            "sources": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1}, "maxItems": 1000,
                        "description": "The source ids it may search (GET /api/sources); left out: all."}}},
        "ApiKey": {"type": "object", "required": ["id", "name", "prefix"], "properties": {
            "id": text, "name": text, "prefix": text, "sources": {"type": ["array", "null"], "items": text},
            "created_at": timestamp, "last_used_at": timestamp}},
        "ApiKeyCreated": {"allOf": [_ref("ApiKey")], "required": ["key"], "properties": {"key": text}},
        "Ready": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}},
    }
