"""GET /api/openapi.json: a valid OpenAPI 3.1 document that describes every route of the app, and only those.

A route added without a description fails ``test_the_description_covers_every_route_and_nothing_else``:
describe it in application/api/openapi.py."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def app_routes(app) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every URL rule: ``<converter:name>`` becomes ``{name}``; HEAD and OPTIONS,
    which Flask answers for every rule by itself, are left out."""
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes.update((method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"})
    return routes


def described_routes(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in METHODS}


def test_the_description_is_served_to_anyone_and_is_valid_openapi_3_1(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises with the first problem
    assert set(document["components"]["securitySchemes"]) == {
        "adminToken", "ownerToken", "ownerCookie", "apiKey", "embeddingsKey"}
    assert document["components"]["securitySchemes"]["ownerToken"]["name"] == "X-Owner-Token"


def test_the_description_covers_every_route_and_nothing_else(app, client):
    document = client.get("/api/openapi.json").get_json()
    undescribed = app_routes(app) - described_routes(document)
    assert not undescribed, f"routes without a description in application/api/openapi.py: {sorted(undescribed)}"
    missing = described_routes(document) - app_routes(app)
    assert not missing, f"described routes that the app does not have: {sorted(missing)}"


def test_a_route_added_without_a_description_is_found(make_app):
    app = make_app()
    app.add_url_rule("/api/undescribed/<int:n>", "undescribed", lambda n: "", methods=["PUT"])
    from application.api.openapi import openapi_document

    assert app_routes(app) - described_routes(openapi_document()) == {("put", "/api/undescribed/{n}")}


def test_path_parameters_are_declared_with_the_names_of_the_routes(client):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        in_path = set(re.findall(r"{([^}]+)}", path))
        for method in (m for m in item if m in METHODS):
            declared = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
            assert declared == in_path, (method, path)


def test_admin_routes_need_the_admin_token_and_chat_routes_take_an_owner(client):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in METHODS):
            schemes = {name for requirement in operation["security"] for name in requirement}
            if path.startswith(("/api/admin/", "/api/jobs", "/api/sources", "/api/upload", "/api/task_status")) \
                    or path == "/api/feedback/export":
                assert schemes == {"adminToken"}, (method, path)
            elif path.startswith("/v1/"):
                assert schemes == {"embeddingsKey"}, (method, path)
    assert {"ownerToken", "ownerCookie", "apiKey"} <= {
        name for requirement in document["paths"]["/stream"]["post"]["security"] for name in requirement}


def test_request_bounds_are_the_serving_apps_settings(make_app):
    client = make_app(MAX_CHUNKS=7, MAX_QUESTION_CHARS=123).test_client()
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    question = schemas["AnswerRequest"]["properties"]["question"]
    assert question["maxLength"] == 123
    assert schemas["SearchRequest"]["properties"]["chunks"]["oneOf"][0] == {
        "type": "integer", "minimum": 1, "maximum": 7}
