"""Bad input is refused with a reason and stores nothing; admin routes need the token; limits hold."""
import os
import stat
from types import SimpleNamespace

import pytest

QUESTION = "How long until a refund reaches my card?"


@pytest.fixture
def fresh_owner():
    return {"X-Owner-Token": "fresh-owner-" + os.urandom(8).hex()}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "'question' is missing"),
        ({"question": "   "}, "'question' is missing"),
        ({"question": 42}, "'question' must be a string"),
        ({"question": "x" * 4001}, "the limit is 4000"),
        ({"question": QUESTION, "chunks": -3}, "'chunks' must be"),
        ({"question": QUESTION, "chunks": 10_000}, "'chunks' must be"),
        ({"question": QUESTION, "chunks": True}, "'chunks' must be"),
        ({"question": QUESTION, "chunks": "many"}, "'chunks' must be"),
        ({"question": QUESTION, "history": "{not json"}, "'history' must be"),
        ({"question": QUESTION, "history": [{"prompt": 1}]}, "'history' item"),
        ({"question": QUESTION, "conversation_id": 7}, "'conversation_id' must be"),
    ],
)
@pytest.mark.parametrize("route", ["/stream", "/api/answer"])
def test_bad_questions_are_refused_with_a_reason_and_nothing_is_stored(client, fresh_owner, route, body, reason):
    response = client.post(route, json=body, headers=fresh_owner)

    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert client.get("/api/conversations", headers=fresh_owner).get_json() == []


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_a_body_that_is_not_a_json_object_is_a_400(client, fresh_owner, raw):
    response = client.post("/stream", data=raw, content_type="application/json", headers=fresh_owner)
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]
    assert client.get("/api/conversations", headers=fresh_owner).get_json() == []


def test_an_unknown_conversation_id_is_a_404_and_stores_nothing(client, fresh_owner):
    response = client.post("/stream", json={"question": QUESTION, "conversation_id": "nope"}, headers=fresh_owner)
    assert response.status_code == 404
    assert client.get("/api/conversations", headers=fresh_owner).get_json() == []


def test_a_request_over_the_size_limit_is_a_413_in_json(make_app):
    client = make_app(MAX_CONTENT_LENGTH=2048).test_client()
    response = client.post("/api/search", json={"question": "x" * 5000})
    assert response.status_code == 413 and "MAX_CONTENT_LENGTH" in response.get_json()["error"]


def test_public_routes_are_rate_limited_with_a_json_429(make_app):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ANSWER="2 per minute").test_client()
    statuses = [client.post("/api/search", json={"question": "refunds", "chunks": 1}).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    limited = client.post("/stream", json={"question": "refunds"})
    assert limited.status_code == 429 and "Too many requests" in limited.get_json()["error"]
    assert client.get("/health").status_code == 200  # never limited


@pytest.mark.parametrize("trusted_proxies", [0, 1])
def test_behind_a_proxy_each_client_has_its_own_rate_limit_only_when_the_proxy_is_trusted(make_app, trusted_proxies):
    client = make_app(RATE_LIMIT_ENABLED=True, RATE_LIMIT_ANSWER="2 per minute",
                      TRUSTED_PROXIES=trusted_proxies).test_client()

    def search(forwarded_for: str) -> int:
        # what a load balancer at 10.0.0.2 sends on: the client's address appended to X-Forwarded-For
        return client.post("/api/search", json={"question": "refunds", "chunks": 1},
                           headers={"X-Forwarded-For": forwarded_for},
                           environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code

    first = [search("203.0.113.7") for _ in range(3)]
    other = search("198.51.100.9")
    forged = search("198.51.100.1, 203.0.113.7")  # a client's own X-Forwarded-For entry is not believed

    assert first == [200, 200, 429]
    if trusted_proxies:
        assert other == 200 and forged == 429  # its own bucket; the forged one is still 203.0.113.7's
    else:
        assert other == 429  # everyone behind the proxy shares the proxy's bucket


@pytest.mark.parametrize("trusted_proxies", [0, 1])
def test_behind_a_trusted_https_proxy_the_owner_cookie_is_secure(make_app, trusted_proxies):
    client = make_app(TRUSTED_PROXIES=trusted_proxies).test_client()
    response = client.post("/stream", json={"question": "refunds"}, headers={"X-Forwarded-Proto": "https"})
    response.get_data()

    cookie = response.headers["Set-Cookie"]  # a new asker gets its owner token
    assert cookie.startswith("docstune_owner=")
    assert ("Secure" in cookie) == bool(trusted_proxies)


def test_unknown_routes_and_wrong_methods_answer_in_json(client):
    assert client.get("/api/nothing-here").get_json()["error"]
    response = client.get("/stream")
    assert response.status_code == 405 and response.get_json()["error"]


@pytest.mark.parametrize("route", [("get", "/api/sources"), ("post", "/api/upload"), ("get", "/api/task_status?task_id=x"),
                                   ("delete", "/api/sources/x"), ("get", "/api/feedback/export")])
def test_admin_routes_refuse_a_missing_or_wrong_token(client, route):
    method, path = route
    missing = getattr(client, method)(path)
    wrong = getattr(client, method)(path, headers={"Authorization": "Bearer test-admin-token-0123456788"})
    basic = getattr(client, method)(path, headers={"Authorization": "Basic test-admin-token-0123456789"})

    assert missing.status_code == wrong.status_code == basic.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "ADMIN_TOKEN" in missing.get_json()["error"]


def test_admin_routes_are_off_when_no_token_exists(make_app, tmp_path):
    client = make_app(ADMIN_TOKEN="", DATA_DIR=tmp_path / "no-token").test_client()
    response = client.get("/api/sources", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 503 and "docstune serve" in response.get_json()["error"]


def test_the_generated_admin_token_is_private_and_stable(tmp_path):
    from application.api.auth import ensure_admin_token, read_admin_token
    from application.settings import Settings

    settings = Settings(DATA_DIR=tmp_path / "data", ADMIN_TOKEN="")
    token, created = ensure_admin_token(settings)
    again, created_again = ensure_admin_token(settings)

    assert created and not created_again and token == again and len(token) >= 32
    assert stat.S_IMODE(settings.admin_token_file.stat().st_mode) == 0o600
    assert read_admin_token(Settings(DATA_DIR=tmp_path / "data", ADMIN_TOKEN="from-env-0123456789")) == "from-env-0123456789"


def test_a_short_admin_token_in_the_token_file_is_refused_with_one_line(tmp_path):
    from application.api.auth import read_admin_token
    from application.settings import Settings, SettingsError

    settings = Settings(DATA_DIR=tmp_path / "data", ADMIN_TOKEN="")
    settings.admin_token_file.parent.mkdir(parents=True)
    settings.admin_token_file.write_text("tiny5\n")
    with pytest.raises(SettingsError, match="at least 16") as refused:
        read_admin_token(settings)
    assert "tiny5" not in str(refused.value)


def test_gunicorn_refuses_several_workers_on_qdrant_local_mode(monkeypatch):
    from application import gunicorn_conf

    server = SimpleNamespace(cfg=SimpleNamespace(workers=3))
    with pytest.raises(SystemExit, match="--workers 1 --threads"):
        gunicorn_conf.on_starting(server)
    gunicorn_conf.on_starting(SimpleNamespace(cfg=SimpleNamespace(workers=1)))
