"""What every route of a group follows, whatever the route: an id no row can have is a 400 (never a lookup),
and what answers one owner, key or admin is never kept by a shared cache."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("path", [
    "/api/conversations/a%00b",
    "/api/get_single_conversation?id=a%00b",
    "/api/messages/a%00b/tail",
    "/api/get_single_prompt?id=%00",
])
def test_an_id_with_nul_or_a_lone_surrogate_is_a_400(client, path):
    # probe: these were 404 where docs/api.md promises 400
    response = client.get(path, headers={"X-Owner-Token": "request-rules-owner-1"})

    assert response.status_code == 400, response.get_data(as_text=True)
    assert "'" in response.get_json()["error"]


def test_a_lone_surrogate_escape_in_a_json_id_is_a_400(client):
    # (in a URL it cannot arrive: the server decodes bytes that are no UTF-8 as U+FFFD)
    response = client.post("/api/update_conversation_name", data='{"id": "\\ud800", "name": "x"}',
                           content_type="application/json")
    assert response.status_code == 400 and "'id'" in response.get_json()["error"]


@pytest.mark.parametrize(("method", "path", "admin"), [
    ("get", "/api/conversations", False),
    ("get", "/api/get_conversations", False),
    ("post", "/api/search", False),
    ("get", "/api/jobs", True),
    ("get", "/api/feedback/export", True),
])
def test_private_answers_are_not_stored_by_caches(client, admin_headers, method, path, admin):
    # probe: private JSON came without Cache-Control, so a proxy or the browser's disk could keep it
    kwargs = {"json": {"question": "refunds", "chunks": 1}} if method == "post" else {}
    response = getattr(client, method)(path, headers=admin_headers if admin else {}, **kwargs)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_the_stream_is_not_stored_either(client):
    response = client.post("/stream", json={"question": "refunds", "chunks": 1})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    response.get_data()
