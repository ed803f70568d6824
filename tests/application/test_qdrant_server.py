"""The Qdrant server path (QDRANT_URL), tested without a Qdrant server.

No Qdrant server runs here, so: the real qdrant-client talks to a closed port (connection
refused), to a port that never answers (QDRANT_TIMEOUT), to a stub that answers 401, and to
``tests.qdrant_stub.QdrantStub`` (Qdrant's REST API over an in-memory qdrant-client) that records
what it was asked (the API key header, the payload index on source_id). The embedded engine,
Qdrant Edge, makes the same keyword index on source_id with every collection. What both stores
do with points is one contract: ``tests/application/vectorstore/test_store_contract.py``.
"""
from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from application.errors import ServiceUnavailable
from application.vectorstore.qdrant import PAYLOAD_INDEXES, QdrantVectorStore
from tests.live_server import free_port
from tests.qdrant_stub import QdrantStub

API_KEY = "qdrant-secret-key-0123456789"
ADMIN_TOKEN = "qdrant-test-admin-token-0123"


@pytest.fixture
def stub():
    server = QdrantStub().start()
    yield server
    server.wait_for("GET", "/")  # the client's version check runs in a thread of its own
    server.stop()


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers (a hung server, a black-holed proxy)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def open_server(url: str, tmp_path, api_key: str | None = API_KEY, timeout: int = 1) -> QdrantVectorStore:
    return QdrantVectorStore.open(url=url, api_key=api_key, timeout=timeout)


def test_a_closed_port_is_a_clear_error_at_once_naming_the_url_never_the_key(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        open_server(url, tmp_path)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"Cannot reach Qdrant at {url}:") and "QDRANT_URL" in message
    assert API_KEY not in message
    assert list(tmp_path.iterdir()) == []  # server mode never makes a local folder


def test_a_server_that_never_answers_is_an_error_after_qdrant_timeout(tmp_path, silent_port):
    url = f"http://127.0.0.1:{silent_port}"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match=r"did not answer within 1 s \(QDRANT_TIMEOUT\)") as caught:
        open_server(url, tmp_path, timeout=1)
    assert time.monotonic() - started < 10  # the timeout was passed to the client
    assert url in str(caught.value) and API_KEY not in str(caught.value)


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_api_key_says_so(tmp_path, status):
    server = QdrantStub(status=status).start()
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            open_server(server.url, tmp_path)
        with pytest.raises(ServiceUnavailable, match="no API key was sent: set QDRANT_API_KEY"):
            open_server(server.url, tmp_path, api_key=None)
    finally:
        server.stop()
    message = str(caught.value)
    assert message == (f"The Qdrant server at {server.url} rejected the API key (HTTP {status}): "
                       f"check QDRANT_API_KEY.")
    assert server.requests[0]["headers"].get("api-key") == API_KEY


def test_creating_a_collection_on_a_server_creates_the_payload_index_filters_use_and_sends_the_key(stub, tmp_path):
    store = open_server(stub.url, tmp_path)
    try:
        store.create_collection("chunks__test", 8)
        store.switch_alias("chunks__test")

        assert store.collection_exists("chunks__test")
        assert store.alias_target() == "chunks__test"
    finally:
        store.close()

    created = stub.calls("PUT", "/collections/chunks__test")
    assert len(created) == 1 and created[0]["body"]["vectors"] == {"size": 8, "distance": "Cosine"}
    indexes = stub.calls("PUT", "/collections/chunks__test/index")
    assert [r["body"] for r in indexes] == [
        {"field_name": name, "field_schema": schema.value} for name, schema in PAYLOAD_INDEXES.items()
    ] == [{"field_name": "source_id", "field_schema": "keyword"}]
    assert stub.requests.index(indexes[0]) > stub.requests.index(created[0])
    # one atomic request for the alias switch
    assert [r["body"]["actions"] for r in stub.calls("POST", "/collections/aliases")] == [
        [{"create_alias": {"collection_name": "chunks__test", "alias_name": "chunks_active"}}]
    ]
    assert all(r["headers"].get("api-key") == API_KEY for r in stub.requests)


def test_a_collection_made_before_the_payload_index_existed_gets_it_at_start_up(stub, tmp_path):
    stub.add_collection("chunks__old", 8)  # made by an earlier version: no index on source_id
    stub.set_alias("chunks_active", "chunks__old")
    store = open_server(stub.url, tmp_path)
    try:
        assert store.ensure_payload_indexes("chunks__old") == ["source_id"]
        assert stub.indexed["chunks__old"] == {"source_id": "keyword"}
        assert store.ensure_payload_indexes("chunks__old") == []  # once there, nothing is asked again
        assert store.vector_size("chunks__old") == 8
    finally:
        store.close()

    made = stub.calls("PUT", "/collections/chunks__old/index")
    assert [r["body"] for r in made] == [{"field_name": "source_id", "field_schema": "keyword"}]
    assert all(r["headers"].get("api-key") == API_KEY for r in stub.requests)


def test_opening_the_index_adds_the_missing_payload_index_to_the_serving_collection(stub, tmp_path):
    from application.db import Database
    from application.errors import IndexMismatchError
    from application.retrieval.index import open_active_index

    stub.add_collection("chunks__old", 8)
    stub.set_alias("chunks_active", "chunks__old")
    store = open_server(stub.url, tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        with pytest.raises(IndexMismatchError):  # no model to serve it with here: the start-up check is the point
            open_active_index(db, store, None, configured_error="No model.")
    finally:
        store.close()
        db.dispose()
    assert stub.indexed["chunks__old"] == {"source_id": "keyword"}


def test_a_server_that_goes_away_after_start_up_gives_the_same_clear_error(tmp_path):
    server = QdrantStub().start()
    store = open_server(server.url, tmp_path)
    server.stop()
    try:
        with pytest.raises(ServiceUnavailable, match=f"^Cannot reach Qdrant at {re.escape(server.url)}:"):
            store.list_collections()
    finally:
        store.close()


def test_edge_makes_the_same_keyword_payload_index_on_source_id_with_every_collection(tmp_path):
    from qdrant_edge import PayloadSchemaType

    from application.vectorstore.edge import EdgeVectorStore

    store = EdgeVectorStore.open(tmp_path / "qdrant")
    try:
        store.create_collection("chunks__edge", 4)
        schema = store._shard("chunks__edge").info().payload_schema
        assert set(schema) == set(PAYLOAD_INDEXES) == {"source_id"}
        assert schema["source_id"].data_type == PayloadSchemaType.Keyword
    finally:
        store.close()
    reopened = EdgeVectorStore.open(tmp_path / "qdrant")  # kept in the shard, not made again at open
    try:
        assert set(reopened._shard("chunks__edge").info().payload_schema) == {"source_id"}
    finally:
        reopened.close()


def test_ready_and_search_answer_503_with_the_reason_when_qdrant_cannot_be_reached(make_settings):
    from application.api import close_app, create_app

    url = f"http://127.0.0.1:{free_port()}"
    app = create_app(make_settings(QDRANT_URL=url, QDRANT_API_KEY=API_KEY, QDRANT_TIMEOUT=1, ADMIN_TOKEN=ADMIN_TOKEN,
                                   JOBS_WORKER="off", RATE_LIMIT_ENABLED=False))
    try:
        client = app.test_client()
        started = time.monotonic()
        ready = client.get("/ready", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})  # the admin sees why
        assert time.monotonic() - started < 60  # the model loads; the Qdrant part fails at once
        body = ready.get_json()
        assert ready.status_code == 503 and body["ok"] is False
        assert body["vector_store"]["ok"] is False
        assert body["vector_store"]["error"].startswith(f"Cannot reach Qdrant at {url}:")
        assert body["database"]["ok"] is True and body["jobs"]["ok"] is True

        # anyone else: what is wrong and which setting to check, not where the server is
        search = client.post("/api/search", json={"question": "anything", "chunks": 1})
        assert search.status_code == 503 and search.get_json()["error"].startswith("Cannot reach Qdrant at <QDRANT_URL>:")
        anonymous = client.get("/ready")
        assert anonymous.status_code == 503 and anonymous.get_json()["vector_store"]["ok"] is False
        public = anonymous.get_data(as_text=True) + search.get_data(as_text=True)
        assert url.removeprefix("http://") not in public
        assert API_KEY not in ready.get_data(as_text=True) + public
    finally:
        close_app(app)
