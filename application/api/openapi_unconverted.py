"""The hand-written OpenAPI description of the routes that are not declared with typed models yet (admin,
embeddings, health). ``openapi.py`` fills it into the generated description, path by path: a route converted
to models (see ``groups.py``) is described by its models and its hand-written part here is deleted.
"""
from __future__ import annotations

from application.api.groups import ERROR_REASONS

# the security requirements of the kinds of route ({} means "without any": the scheme is optional)
ANYONE: list = []


def unconverted_description(settings) -> dict:
    """``{"paths": ..., "components": {"schemas": ...}}`` of the routes still described by hand."""
    return {"paths": _paths(settings), "components": {"schemas": _schemas(settings)}}


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




# -- the routes -----------------------------------------------------------------------
def _paths(settings) -> dict:
    paths: dict[str, dict] = {}
    for part in (_health_paths,):
        for path, operations in part(settings).items():
            paths.setdefault(path, {}).update(operations)
    return paths








def _health_paths(settings) -> dict:
    return {
        "/health": {"get": _op(
            "health", "health", "Liveness: the process answers", ANYONE,
            {"200": _json({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}},
                          "Alive.")},
        )},
        "/ready": {"get": _op(
            "ready", "health", "Readiness: model, vector store, database, job queue and LLM", ANYONE,
            {"200": _json(_ref("Ready"), "Ready."), "503": _json(_ref("Ready"), "Not ready (`ok` is false)."),
             **_errors(401, 429)},
            description="Anonymous: `{ok}` only. With the admin token: what serves and where. A wrong token is "
                        "a 401 and spends the failed-credential budget.",
        )},
        "/api/openapi.json": {"get": _op(
            "openapi", "health", "This description (OpenAPI 3.1)", ANYONE,
            {"200": _json({"type": "object", "required": ["openapi", "info", "paths"]}, "The description.")},
        )},
    }




# -- the schemas ----------------------------------------------------------------------
def _schemas(settings) -> dict:
    return {
        "Ready": {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}},
    }
