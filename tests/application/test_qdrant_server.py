"""The Qdrant server path (QDRANT_URL), tested without a Qdrant server.

No Qdrant server runs here, so: the real qdrant-client talks to a closed port (connection
refused), to a port that never answers (QDRANT_TIMEOUT), to a stub that answers 401, and to a
small stub that answers Qdrant-shaped JSON for the few endpoints a collection's creation uses
and records what it was asked (the API key header, the payload index on source_id). Local
mode runs the same code; there the payload index call is accepted and kept quiet.
"""
from __future__ import annotations

import json
import re
import socket
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from application.errors import ServiceUnavailable
from application.vectorstore.qdrant import PAYLOAD_INDEXES, QdrantVectorStore
from tests.live_server import free_port

API_KEY = "qdrant-secret-key-0123456789"


class QdrantStub:
    """A tiny HTTP server speaking just enough of Qdrant's REST API; records every request."""

    def __init__(self, status: int | None = None):
        self.status = status  # answer every request with this status (401, 403) instead
        self.requests: list[dict] = []
        self.collections: set[str] = set()
        self.indexed: dict[str, dict[str, str]] = {}  # collection -> {field: schema}
        self.aliases: dict[str, str] = {}
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?", 1)[0]
                stub.requests.append({"method": self.command, "path": path, "headers": dict(self.headers),
                                      "body": body})
                code, payload = stub.answer(self.command, path, body)
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path: str, body) -> tuple[int, dict]:
        if self.status:
            return self.status, {"status": {"error": "Invalid API key or JWT"}, "time": 0.0}
        ok = lambda result: (200, {"result": result, "status": "ok", "time": 0.0})  # noqa: E731
        if method == "GET" and path == "/":
            return 200, {"title": "qdrant - vector search engine", "version": "1.15.0"}
        if method == "GET" and path == "/collections":
            return ok({"collections": [{"name": name} for name in sorted(self.collections)]})
        if method == "GET" and path == "/aliases":
            return ok({"aliases": [{"alias_name": a, "collection_name": c} for a, c in self.aliases.items()]})
        if method == "POST" and path == "/collections/aliases":
            for action in body["actions"]:
                if "delete_alias" in action:
                    self.aliases.pop(action["delete_alias"]["alias_name"], None)
                if "create_alias" in action:
                    self.aliases[action["create_alias"]["alias_name"]] = action["create_alias"]["collection_name"]
            return ok(True)
        match = re.fullmatch(r"/collections/([^/]+)(/exists|/index)?", path)
        if match:
            name, rest = match.groups()
            if method == "GET" and rest == "/exists":
                return ok({"exists": name in self.collections})
            if method == "PUT" and rest is None:
                self.collections.add(name)
                return ok(True)
            if method == "GET" and rest is None and name in self.collections:
                return ok(collection_info(self.indexed.get(name, {})))
            if method == "PUT" and rest == "/index" and name in self.collections:
                self.indexed.setdefault(name, {})[body["field_name"]] = body["field_schema"]
                return ok({"operation_id": 1, "status": "completed"})
        return 404, {"status": {"error": f"Not found: {method} {path}"}, "time": 0.0}

    def start(self) -> "QdrantStub":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


def collection_info(indexed: dict[str, str]) -> dict:
    """GET /collections/{name} as a server answers it, built with qdrant-client's own model."""
    from qdrant_client.http import models

    return models.CollectionInfo(
        status=models.CollectionStatus.GREEN, optimizer_status=models.OptimizersStatusOneOf.OK, segments_count=1,
        config=models.CollectionConfig(
            params=models.CollectionParams(vectors=models.VectorParams(size=8, distance=models.Distance.COSINE)),
            hnsw_config=models.HnswConfig(m=16, ef_construct=100, full_scan_threshold=10000),
            optimizer_config=models.OptimizersConfig(default_segment_number=0, flush_interval_sec=5),
        ),
        payload_schema={field: models.PayloadIndexInfo(data_type=schema, points=0) for field, schema in indexed.items()},
    ).model_dump(mode="json", exclude_none=True)


@pytest.fixture
def stub():
    server = QdrantStub().start()
    yield server
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
    return QdrantVectorStore.open(url=url, api_key=api_key, path=tmp_path / "unused-local-folder", timeout=timeout)


def test_a_closed_port_is_a_clear_error_at_once_naming_the_url_never_the_key(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as caught:
        open_server(url, tmp_path)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"Cannot reach Qdrant at {url}:") and "QDRANT_URL" in message
    assert API_KEY not in message
    assert not (tmp_path / "unused-local-folder").exists()  # server mode never makes a local folder


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
    stub.collections.add("chunks__old")  # made by an earlier version: no index on source_id
    stub.aliases["chunks_active"] = "chunks__old"
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
    from application.index import open_active_index

    stub.collections.add("chunks__old")
    stub.aliases["chunks_active"] = "chunks__old"
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


def test_local_mode_makes_the_same_payload_index_call_and_keeps_it_quiet(tmp_path):
    from qdrant_client.common import client_warnings

    store = QdrantVectorStore.open(url=None, api_key=None, path=tmp_path / "qdrant")
    made = []
    real = store.client.create_payload_index
    store.client.create_payload_index = lambda *a, **kw: made.append((a, kw)) or real(*a, **kw)
    client_warnings.SEEN_MESSAGES.discard("create-local-payload-indexes")  # as if never warned in this process
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            store.create_collection("chunks__local", 4)
    finally:
        store.close()

    assert made == [(("chunks__local",), {"field_name": "source_id", "field_schema": PAYLOAD_INDEXES["source_id"],
                                          "wait": True})]
    assert not [w for w in caught if "Payload indexes" in str(w.message)]


def test_ready_and_search_answer_503_with_the_reason_when_qdrant_cannot_be_reached(make_settings):
    from application.api import close_app, create_app

    url = f"http://127.0.0.1:{free_port()}"
    app = create_app(make_settings(QDRANT_URL=url, QDRANT_API_KEY=API_KEY, QDRANT_TIMEOUT=1,
                                   JOBS_WORKER="off", RATE_LIMIT_ENABLED=False))
    try:
        client = app.test_client()
        started = time.monotonic()
        ready = client.get("/ready")
        assert time.monotonic() - started < 60  # the model loads; the Qdrant part fails at once
        body = ready.get_json()
        assert ready.status_code == 503 and body["ok"] is False
        assert body["vector_store"]["ok"] is False
        assert body["vector_store"]["error"].startswith(f"Cannot reach Qdrant at {url}:")
        assert body["database"]["ok"] is True and body["jobs"]["ok"] is True

        search = client.post("/api/search", json={"question": "anything", "chunks": 1})
        assert search.status_code == 503 and search.get_json()["error"].startswith(f"Cannot reach Qdrant at {url}:")
        assert API_KEY not in ready.get_data(as_text=True) + search.get_data(as_text=True)
    finally:
        close_app(app)
