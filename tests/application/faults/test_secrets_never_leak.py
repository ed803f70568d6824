"""No secret of the server's settings reaches a client, a stored row or a log line, and no internal
address reaches a client that is not the admin: each failure path runs with a secret in every
setting it reads (a password in OPENAI_BASE_URL, ANTHROPIC_BASE_URL, REDIS_URL, DATABASE_URL; the
API keys; QDRANT_API_KEY), against a closed port or a local fake server whose errors echo them, and
every response (SSE frames included), stored message and job error, and every captured log record
is searched for each secret and for the host:port."""
from __future__ import annotations

import base64
import logging

import pytest

from tests.application.api.helpers import sse_frames
from tests.application.faults.helpers import ADMIN_TOKEN, OWNER_PREFIX
from tests.application.llm.fake_llm_servers import Status
from tests.live_server import free_port, worker_output

LLM_PASSWORD = "SECRETPW-llm-4711"
OPENAI_KEY = "sk-openai-SECRET-0815"
ANTHROPIC_KEY = "sk-ant-SECRET-0042"
REDIS_PASSWORD = "SECRETPW-redis-1234"
QDRANT_KEY = "qdrant-SECRET-key-0077"
DATABASE_PASSWORD = "SECRETPW-db-0999"
SECRETS = (LLM_PASSWORD, OPENAI_KEY, ANTHROPIC_KEY, REDIS_PASSWORD, QDRANT_KEY, DATABASE_PASSWORD)
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BASIC_AUTH = "Basic " + base64.b64encode(f"user:{LLM_PASSWORD}".encode()).decode()
QUESTION = "How long until a refund reaches my card?"


def assert_no_secret(text: str, *addresses: str) -> None:
    for secret in (*SECRETS, *addresses):
        assert secret not in text, f"{secret!r} leaked in:\n{text}"


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # every record of every library, not only our warnings
    return caplog


def ask_everywhere(client, owner: str) -> tuple[list[str], str]:
    """(the error messages, everything a client got): the /stream error frame, the /api/answer error
    body, and both stored messages as GET /api/conversations/<id> returns them."""
    headers = {"X-Owner-Token": OWNER_PREFIX + owner}
    streamed = client.post("/stream", json={"question": QUESTION}, headers=headers)
    frames = sse_frames(streamed.get_data(as_text=True))
    assert streamed.status_code == 200 and frames[-1]["type"] == "error", frames
    answered = client.post("/api/answer", json={"question": QUESTION}, headers=headers)
    assert answered.status_code in (502, 503, 504), answered.get_json()
    texts = [streamed.get_data(as_text=True), answered.get_data(as_text=True)]
    for conversation_id in (frames[-1]["conversation_id"], answered.get_json()["conversation_id"]):
        stored = client.get(f"/api/conversations/{conversation_id}", headers=headers)
        message = stored.get_json()["messages"][0]
        assert message["status"] == "failed" and message["error"], message
        texts.append(stored.get_data(as_text=True))
    return [frames[-1]["error"], answered.get_json()["error"]], "\n".join(texts)


def test_an_unreachable_openai_compatible_server_is_named_by_its_setting_not_its_address(make_fault_app, logs):
    port = free_port()  # nothing listens there
    url = f"http://user:{LLM_PASSWORD}@127.0.0.1:{port}/v1"
    app = make_fault_app(LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL=url, OPENAI_API_KEY=OPENAI_KEY,
                         OPENAI_MODEL="local-model", LLM_TIMEOUT=2)

    errors, seen = ask_everywhere(app.test_client(), "openai-down")

    assert all("Cannot reach" in e and "OPENAI_BASE_URL" in e for e in errors), errors
    assert_no_secret(seen, f"127.0.0.1:{port}", "http://user")
    assert_no_secret(logs.text)
    assert f"http://user:***@127.0.0.1:{port}/v1" in logs.text  # the server log says where, less the password


@pytest.mark.parametrize("code", [401, 400, 500])
def test_an_openai_compatible_server_whose_errors_echo_the_secrets(make_fault_app, fake_openai, logs, code):
    url = fake_openai.base_url.replace("http://", f"http://user:{LLM_PASSWORD}@", 1)
    echo = f"upstream {url} refused the key {OPENAI_KEY}"
    fake_openai.enqueue(Status(code, echo), Status(code, echo))
    app = make_fault_app(LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL=url, OPENAI_API_KEY=OPENAI_KEY,
                         OPENAI_MODEL="local-model", LLM_TIMEOUT=5)

    errors, seen = ask_everywhere(app.test_client(), f"openai-echo-{code}")

    assert fake_openai.requests[-1]["headers"]["authorization"] == BASIC_AUTH  # the URL's password was sent
    assert all("LLM server" in e for e in errors), errors
    assert_no_secret(seen, fake_openai.url.removeprefix("http://"), "http://user")
    assert_no_secret(logs.text)


@pytest.mark.parametrize("code", [400, 500])
def test_an_openai_compatible_server_that_quotes_our_authorization_header(make_fault_app, fake_openai, logs, code):
    # a proxy's error page that quotes the request's headers: the URL's user:password comes back base64-encoded
    url = fake_openai.base_url.replace("http://", f"http://user:{LLM_PASSWORD}@", 1)
    echo = f"bad upstream request; headers were {{'Authorization': '{BASIC_AUTH}'}}"
    fake_openai.enqueue(Status(code, echo), Status(code, echo))
    app = make_fault_app(LLM_PROVIDER="openai_compatible", OPENAI_BASE_URL=url, OPENAI_MODEL="local-model",
                         LLM_TIMEOUT=5)

    errors, seen = ask_everywhere(app.test_client(), f"openai-basic-echo-{code}")

    assert fake_openai.requests[-1]["headers"]["authorization"] == BASIC_AUTH
    assert all("LLM server" in e and "bad upstream request" in e for e in errors), errors
    assert_no_secret(seen, BASIC_AUTH.removeprefix("Basic "))
    assert_no_secret(logs.text, BASIC_AUTH.removeprefix("Basic "))


def test_an_unreachable_anthropic_base_url_is_named_by_its_setting_not_its_address(make_fault_app, logs):
    port = free_port()
    app = make_fault_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY=ANTHROPIC_KEY, ANTHROPIC_MODEL="claude-test",
                         ANTHROPIC_BASE_URL=f"http://user:{LLM_PASSWORD}@127.0.0.1:{port}", LLM_MAX_RETRIES=0,
                         LLM_TIMEOUT=2)

    errors, seen = ask_everywhere(app.test_client(), "anthropic-down")

    assert all("Cannot reach" in e and "ANTHROPIC_BASE_URL" in e for e in errors), errors
    assert_no_secret(seen, f"127.0.0.1:{port}", "http://user")
    assert_no_secret(logs.text)
    assert f"http://user:***@127.0.0.1:{port}" in logs.text


@pytest.mark.parametrize("code", [403, 400, 500])
def test_an_anthropic_api_whose_errors_echo_the_secrets(make_fault_app, fake_anthropic, logs, code):
    url = fake_anthropic.base_url.replace("http://", f"http://user:{LLM_PASSWORD}@", 1)
    echo = f"the key {ANTHROPIC_KEY} may not use {url}"
    fake_anthropic.enqueue(Status(code, echo), Status(code, echo))
    app = make_fault_app(LLM_PROVIDER="anthropic", ANTHROPIC_API_KEY=ANTHROPIC_KEY, ANTHROPIC_MODEL="claude-test",
                         ANTHROPIC_BASE_URL=url, LLM_MAX_RETRIES=0, LLM_TIMEOUT=5)

    errors, seen = ask_everywhere(app.test_client(), f"anthropic-echo-{code}")

    assert fake_anthropic.requests[-1]["headers"]["authorization"] == BASIC_AUTH
    assert all("Anthropic API" in e for e in errors), errors
    assert_no_secret(seen, fake_anthropic.url.removeprefix("http://"), "http://user")
    assert_no_secret(logs.text)


def test_an_unreachable_redis_with_a_password(make_settings, logs):
    from application.api import close_app, create_app

    port = free_port()
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0"
    app = create_app(make_settings(REDIS_URL=url, JOBS_WORKER="off", ADMIN_TOKEN=ADMIN_TOKEN, RATE_LIMIT_ENABLED=False))
    try:
        client = app.test_client()
        upload = client.post("/api/upload", data={"file": [(_file(b"Some text."), "a.txt")]}, headers=ADMIN,
                             content_type="multipart/form-data")
        assert upload.status_code == 503 and "REDIS_URL" in upload.get_json()["error"]
        jobs = client.get("/api/jobs", headers=ADMIN)
        assert jobs.status_code == 200 and "Not queued" in jobs.get_data(as_text=True)
        anonymous = client.get("/ready")
        admin = client.get("/ready", headers=ADMIN)
        assert anonymous.status_code == admin.status_code == 503
        assert anonymous.get_json()["jobs"]["ok"] is False and anonymous.get_json()["jobs"]["reason"]

        # the admin may see where (less the password); nobody else sees even that
        assert_no_secret(upload.get_data(as_text=True) + jobs.get_data(as_text=True) + admin.get_data(as_text=True))
        assert f":***@127.0.0.1:{port}" in admin.get_json()["jobs"]["error"]
        assert_no_secret(anonymous.get_data(as_text=True), f"127.0.0.1:{port}", "redis://")
        stored = app.extensions["docstune"].jobs.store.list()
        assert stored and all(REDIS_PASSWORD not in (job["error"] or "") for job in stored)
        assert_no_secret(logs.text)
    finally:
        close_app(app)


@pytest.mark.parametrize("status", [None, 401])
def test_a_qdrant_server_that_is_down_or_refuses_the_key(make_settings, logs, status):
    from application.api import close_app, create_app
    from tests.qdrant_stub import QdrantStub

    stub = QdrantStub(status=status).start() if status else None
    url = stub.url if stub else f"http://127.0.0.1:{free_port()}"
    address = url.removeprefix("http://")
    app = create_app(make_settings(QDRANT_URL=url, QDRANT_API_KEY=QDRANT_KEY, QDRANT_TIMEOUT=1, JOBS_WORKER="off",
                                   ADMIN_TOKEN=ADMIN_TOKEN, RATE_LIMIT_ENABLED=False))
    try:
        client = app.test_client()
        search = client.post("/api/search", json={"question": "anything", "chunks": 1})
        stream = client.post("/stream", json={"question": "anything"})
        anonymous = client.get("/ready")
        admin = client.get("/ready", headers=ADMIN)
        assert search.status_code == stream.status_code == anonymous.status_code == admin.status_code == 503
        assert "QDRANT_URL" in search.get_json()["error"] and "QDRANT_URL" in stream.get_json()["error"]
        assert anonymous.get_json()["vector_store"]["ok"] is False

        public = "\n".join(r.get_data(as_text=True) for r in (search, stream, anonymous))
        assert_no_secret(public, address)
        assert_no_secret(admin.get_data(as_text=True))
        assert address in admin.get_json()["vector_store"]["error"]
        if stub:
            assert stub.requests and {k.lower(): v for k, v in stub.requests[-1]["headers"].items()}["api-key"] == QDRANT_KEY
        assert_no_secret(logs.text)
    finally:
        close_app(app)
        if stub:
            stub.stop()


def test_an_unreachable_database_with_a_password(make_settings, logs):
    from application.api import create_app
    from application.errors import DatabaseUnavailable

    port = free_port()
    settings = make_settings(DATABASE_URL=f"postgresql+psycopg://docstune:{DATABASE_PASSWORD}@127.0.0.1:{port}/docs",
                             JOBS_WORKER="off", ADMIN_TOKEN=ADMIN_TOKEN)
    with pytest.raises(DatabaseUnavailable) as refused:
        create_app(settings)

    assert_no_secret(f"{refused.value.message} {refused.value.detail}")
    assert_no_secret(logs.text)


def test_the_worker_prints_redis_url_without_its_password(make_settings):
    settings = make_settings(JOBS_WORKER="off")
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"  # nothing listens: every round fails
    output = worker_output(settings, url, until="No heartbeat")
    assert "docstune worker:" in output and "No heartbeat" in output, output  # it printed where, and the failure
    assert ":***@127.0.0.1" in output, output
    assert_no_secret(output)


def _file(data: bytes):
    import io

    return io.BytesIO(data)
