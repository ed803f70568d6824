"""GET /api/openapi.json: a valid OpenAPI 3.1 document, generated from the routes' models, that describes every
route of the app, and only those, with the shapes the routes accept.

A route added without models (a plain Flask route) fails ``test_the_description_covers_every_route_and_nothing_else``:
declare it in its group's blueprint with its models (docs/architecture.md)."""
from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator
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

    assert app_routes(app) - described_routes(openapi_document(app)) == {("put", "/api/undescribed/{n}")}


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
            schemes = {name for requirement in operation.get("security", []) for name in requirement}
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


def test_every_operation_documents_its_error_shape_and_a_400(client):
    document = client.get("/api/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in METHODS):
            assert operation["operationId"], (method, path)
            if path.startswith("/v1/"):
                continue  # OpenAI's error shape
            for status, response in operation["responses"].items():
                if status.startswith("4"):
                    if "$ref" in response:  # a group's error response, described once in components
                        response = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]


# (method, path, body): each refused by the route (400) and by the request schema it documents
REFUSED = [
    ("post", "/stream", {"question": ""}),
    ("post", "/stream", {"question": "x" * 124}),  # MAX_QUESTION_CHARS=123 below
    ("post", "/api/answer", {"question": "refunds", "chunks": True}),
    ("post", "/api/answer", {"question": "refunds", "chunks": 8}),  # MAX_CHUNKS=7
    ("post", "/api/search", {"question": "refunds", "chunks": 0}),
    ("post", "/api/search", {"question": 5}),
    ("post", "/api/feedback", {"message_id": "m", "feedback": "love"}),
    ("post", "/api/feedback", {"message_id": "m", "sources": ["x"]}),
    ("post", "/api/update_conversation_name", {"id": "c", "name": ""}),
    ("patch", "/api/conversations/c", {"name": 7}),
]
ACCEPTED = [("post", "/api/search", {"question": "refunds", "chunks": "2"}),
            ("post", "/api/search", {"question": "refunds", "chunks": 7, "api_key": None, "other": "ignored"})]


@pytest.fixture
def bounded(make_app):
    client = make_app(MAX_CHUNKS=7, MAX_QUESTION_CHARS=123).test_client()
    return client, client.get("/api/openapi.json").get_json()


def request_schema(document: dict, method: str, path: str) -> Draft202012Validator:
    template = next(p for p in document["paths"] if re.fullmatch(re.sub(r"{[^}]+}", "[^/]+", p), path))
    schema = document["paths"][template][method]["requestBody"]["content"]["application/json"]["schema"]
    return Draft202012Validator({**schema, "components": document["components"]})


@pytest.mark.parametrize(("method", "path", "body"), REFUSED)
def test_the_documented_request_schema_refuses_what_the_route_refuses(bounded, method, path, body):
    client, document = bounded

    response = getattr(client, method)(path, json=body, headers={"X-Owner-Token": "openapi-shapes-owner"})

    assert response.status_code == 400, response.get_json()
    assert not request_schema(document, method, path).is_valid(body)


@pytest.mark.parametrize(("method", "path", "body"), ACCEPTED)
def test_the_documented_request_schema_takes_what_the_route_takes(bounded, method, path, body):
    client, document = bounded

    assert getattr(client, method)(path, json=body).status_code == 200
    assert request_schema(document, method, path).is_valid(body)
