"""API keys as DocsGPT has them: an admin creates them (API, CLI); a key in the body or in
``Authorization: Bearer`` owns the conversations it creates, limits the sources searched, and has its
own rate-limit budget; an unknown or revoked key is a 401 with nothing stored."""
import json
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import select

QUESTION = "How long until a refund reaches my card?"


@pytest.fixture
def new_key(client, admin_headers):
    def create(**body):
        response = client.post("/api/admin/api_keys", json={"name": f"key {uuid.uuid4().hex[:6]}", **body},
                               headers=admin_headers)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    return create


def _owners(services, conversation_id) -> str:
    from application.db.chat import Conversation

    with services.db.session() as session:
        return session.get(Conversation, conversation_id).owner


def test_an_admin_creates_lists_and_revokes_keys_and_the_key_is_shown_once(client, admin_headers, new_key):
    created = new_key(name="docs widget")
    assert created["key"].startswith("dtk_") and len(created["key"]) > 40 and created["sources"] is None
    listed = client.get("/api/admin/api_keys", headers=admin_headers).get_json()
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine["name"] == "docs widget" and created["key"].startswith(mine["prefix"])
    assert "key" not in mine and created["key"] not in json.dumps(listed)

    assert client.get("/api/admin/api_keys").status_code == 401  # admin only
    revoked = client.delete(f"/api/admin/api_keys/{created['id']}", headers=admin_headers)
    assert revoked.status_code == 200
    assert created["id"] not in [k["id"] for k in client.get("/api/admin/api_keys", headers=admin_headers).get_json()]
    assert client.delete(f"/api/admin/api_keys/{created['id']}", headers=admin_headers).status_code == 404


@pytest.mark.parametrize(("body", "reason"), [
    ({}, "'name' is missing"),
    ({"name": "  "}, "'name' is missing"),
    ({"name": 5}, "'name' must be a string"),
    ({"name": "x" * 201}, "the limit is 200"),
    ({"name": "ok", "sources": "all"}, "'sources' must be a list"),
    ({"name": "ok", "sources": ["no-such-source"]}, "No source with id 'no-such-source'"),
])
def test_a_bad_key_request_is_a_400_and_creates_nothing(client, admin_headers, body, reason):
    before = client.get("/api/admin/api_keys", headers=admin_headers).get_json()
    response = client.post("/api/admin/api_keys", json=body, headers=admin_headers)
    assert response.status_code == 400 and reason in response.get_json()["error"]
    assert client.get("/api/admin/api_keys", headers=admin_headers).get_json() == before


def test_a_key_owns_its_conversations_across_requests_without_any_cookie(app, new_key, chat_services):
    from application.chat.owners import api_key_owner

    key = new_key()
    widget = app.test_client(use_cookies=False)  # DocsGPT's clients send no credentials
    first = widget.post("/api/answer", json={"question": QUESTION, "chunks": 1, "api_key": key["key"]})
    assert first.status_code == 200, first.get_data(as_text=True)
    cid = first.get_json()["conversation_id"]
    assert "Set-Cookie" not in first.headers and "X-Owner-Token" not in first.headers
    assert _owners(chat_services, cid) == api_key_owner(key["id"])

    follow_up = widget.post("/api/answer", json={"question": "And gift cards?", "chunks": 1,
                                                 "conversation_id": cid, "api_key": key["key"]})
    assert follow_up.status_code == 200 and follow_up.get_json()["conversation_id"] == cid
    rated = widget.post("/api/feedback", json={"message_id": follow_up.get_json()["message_id"],
                                               "feedback": "like", "api_key": key["key"]})
    assert rated.status_code == 200, rated.get_data(as_text=True)
    # the same key as a bearer token reads them back; another key and an anonymous client do not
    bearer = {"Authorization": f"Bearer {key['key']}"}
    listed = widget.get("/api/get_conversations", headers=bearer).get_json()
    assert [c["id"] for c in listed] == [cid]
    assert len(widget.get(f"/api/conversations/{cid}", headers=bearer).get_json()["messages"]) == 2
    other = {"Authorization": f"Bearer {new_key()['key']}"}
    assert widget.get(f"/api/conversations/{cid}", headers=other).status_code == 404
    assert widget.post("/api/answer", json={"question": QUESTION, "conversation_id": cid},
                       headers=other).status_code == 404
    assert widget.get("/api/get_conversations").get_json() == []


@pytest.mark.parametrize("where", ["body", "bearer"])
def test_an_unknown_or_revoked_key_is_a_401_and_stores_nothing(app, client, admin_headers, new_key, chat_services,
                                                                where):
    from application.db.chat import Conversation

    key = new_key()
    client.delete(f"/api/admin/api_keys/{key['id']}", headers=admin_headers)
    widget = app.test_client(use_cookies=False)
    with chat_services.db.session() as session:
        before = len(session.scalars(select(Conversation.id)).all())
    for candidate in (key["key"], "dtk_never-created-0123456789"):
        body = {"question": QUESTION, "chunks": 1}
        headers = {}
        if where == "body":
            body["api_key"] = candidate
        else:
            headers["Authorization"] = f"Bearer {candidate}"
        for route in ("/stream", "/api/answer", "/api/search"):
            response = widget.post(route, json=body, headers=headers)
            assert response.status_code == 401, (route, response.get_data(as_text=True))
            assert "API key" in response.get_json()["error"]
    with chat_services.db.session() as session:
        assert len(session.scalars(select(Conversation.id)).all()) == before


def test_a_key_with_sources_searches_only_those(client, new_key, chat_services):
    shipping = next(s for s in chat_services.documents.list() if s["uri"].endswith("shipping.txt"))
    key = new_key(sources=[shipping["id"]])
    assert key["sources"] == [shipping["id"]]
    question = {"question": "refund policy gift cards", "chunks": 3}

    everything = client.post("/api/search", json=question).get_json()
    assert any(not h["source_id"] == shipping["id"] for h in everything)
    limited = client.post("/api/search", json={**question, "api_key": key["key"]}).get_json()
    assert limited and {h["source_id"] for h in limited} == {shipping["id"]}
    answered = client.post("/api/answer", json={**question, "api_key": key["key"]}).get_json()
    assert answered["sources"] and all("shipping" in s["title"].lower() or "shipping" in json.dumps(s).lower()
                                       for s in answered["sources"])


def test_rate_limits_count_per_key(make_app, admin_headers):
    app = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ANSWER="2 per minute")
    admin = app.test_client()
    keys = [admin.post("/api/admin/api_keys", json={"name": f"limited {i}"}, headers=admin_headers).get_json()["key"]
            for i in range(2)]
    widget = app.test_client(use_cookies=False)

    def search(key):
        return widget.post("/api/search", json={"question": "refunds", "chunks": 1, "api_key": key}).status_code

    assert [search(keys[0]) for _ in range(3)] == [200, 200, 429]
    assert [search(keys[1]) for _ in range(2)] == [200, 200]  # the other key has its own budget


def test_the_cli_creates_lists_and_revokes_keys(make_settings, monkeypatch, tmp_path):
    from application.cli import main
    from application.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    runner = CliRunner()
    created = runner.invoke(main, ["keys", "create", "docs widget", "--json"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.output)
    assert key["key"].startswith("dtk_")

    listed = runner.invoke(main, ["keys", "list"])
    assert listed.exit_code == 0 and key["id"] in listed.output and key["key"] not in listed.output
    refused = runner.invoke(main, ["keys", "create", "x", "--source", "nope"])
    assert refused.exit_code == 1 and "No source with id 'nope'" in refused.output
    assert "Traceback" not in refused.output

    assert runner.invoke(main, ["keys", "revoke", key["id"]]).exit_code == 0
    again = runner.invoke(main, ["keys", "revoke", key["id"]])
    assert again.exit_code == 1 and "No API key" in again.output
    get_settings.cache_clear()


@pytest.mark.parametrize("body", [
    {"name": "bad \ud800 name"},
    {"name": "ok", "sources": ["\ud800"]},
    {"name": "ok", "sources": ["x" * 5000]},
])
def test_text_that_cannot_be_stored_is_a_400_not_a_500(client, admin_headers, body):
    response = client.post("/api/admin/api_keys", json=body, headers=admin_headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert len(response.get_json()["error"]) < 300
