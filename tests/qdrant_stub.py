"""A stand-in Qdrant server for tests: real HTTP, Qdrant's REST API, Qdrant's own semantics.

No Qdrant server binary exists where the tests run. ``QdrantStub`` is a real HTTP server on
127.0.0.1 (a free port) that speaks the part of Qdrant's REST API that ``QdrantVectorStore``
uses. Every request body is parsed into qdrant-client's own pydantic request model
(``qdrant_client.http.models``: the very types the client serialised it from) and executed on
a qdrant-client in-memory instance (``QdrantClient(":memory:")``); the answer is Qdrant-shaped
JSON (``{"result": ..., "status": "ok", "time": 0}``, errors as ``{"status": {"error": ...}}``
with the server's status codes: 404 for a missing collection, 409 for one that already exists,
400 for a bad request). So the store under test runs the real qdrant-client over real HTTP, and
what comes back follows Qdrant's semantics (cosine scores, filters, aliases, scroll offsets).

Where the in-memory engine is not the server's: a lexical (IDF) score after a delete. A server
(and Qdrant Edge) keeps counting a deleted point in the IDF until its segment is rebuilt; the
in-memory engine forgets it at once. Tests do not compare IDF scores across deletes.

Besides answering, the stub records every request (method, path, headers, JSON body) for tests
that check what was sent, and keeps the payload indexes it was asked for (in-memory Qdrant keeps
none) so that ``GET /collections/{name}`` reports them as a server would.

Example::

    stub = QdrantStub().start()
    store = QdrantVectorStore.open(url=stub.url, api_key=None)
    ...
    stub.stop()

``QdrantStub(status=401)`` answers every request with that status instead (a rejected API key).
"""
from __future__ import annotations

import json
import re
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python
from qdrant_client import QdrantClient
from qdrant_client.http import models as m

# the version GET / reports: the client's own, so its compatibility check is quiet
SERVER_VERSION = version("qdrant-client")
NAME = r"(?P<name>[^/]+)"

_ADAPTERS: dict[Any, TypeAdapter] = {}


def parse(model, body):
    """``body`` (decoded JSON) as qdrant-client's request model ``model`` (a class or a Union)."""
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter.validate_python(body if body is not None else {})


class StubError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class QdrantStub:
    """A Qdrant REST server over an in-memory qdrant-client; records every request."""

    def __init__(self, status: int | None = None):
        self.status = status  # answer every request with this status (401, 403) instead
        self.requests: list[dict] = []
        self.indexed: dict[str, dict[str, str]] = {}  # collection -> {field: schema}, as asked for
        self.local = QdrantClient(":memory:")
        self._lock = threading.Lock()  # the in-memory client is not thread-safe; the server is threaded
        self._routes: list[tuple[str, re.Pattern, Callable]] = [
            (method, re.compile(pattern), handler) for method, pattern, handler in self._route_table()
        ]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                stub.requests.append({"method": self.command, "path": parts.path, "headers": dict(self.headers),
                                      "body": body, "query": {k: v[-1] for k, v in parse_qs(parts.query).items()}})
                code, payload = stub.answer(self.command, parts.path, body)
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> "QdrantStub":
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.local.close()

    # -- for tests: state made behind the API's back, and what was asked ----------------------
    def add_collection(self, name: str, dimension: int = 8) -> None:
        """A collection as an earlier DocsTune made it: a dense vector, no payload index."""
        with self._lock:
            self.local.create_collection(name, vectors_config=m.VectorParams(size=dimension,
                                                                            distance=m.Distance.COSINE))

    def set_alias(self, alias: str, collection: str) -> None:
        with self._lock:
            self.local.update_collection_aliases(change_aliases_operations=[
                m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=alias)),
                m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name=collection, alias_name=alias)),
            ])

    def calls(self, method: str, path: str) -> list[dict]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def wait_for(self, method: str, path: str, timeout: float = 2.0) -> bool:
        """Whether ``method path`` was asked within ``timeout`` s. qdrant-client checks the server's
        version (GET /) in a thread of its own: a test waits for it before stopping the stub, so
        the check never meets a closed port (a warning in some later test)."""
        deadline = time.monotonic() + timeout
        while not self.calls(method, path):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    # -- answering ------------------------------------------------------------------------------
    def answer(self, method: str, path: str, body) -> tuple[int, dict]:
        if self.status:
            return self.status, {"status": {"error": "Invalid API key or JWT"}, "time": 0.0}
        if method == "GET" and path == "/":
            return 200, {"title": "qdrant - vector search engine", "version": SERVER_VERSION}
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if route_method == method and match:
                try:
                    with self._lock, warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # local mode's "payload indexes have no effect"
                        result = handler(body, **match.groupdict())
                except StubError as exc:
                    return _error(exc.status, str(exc))
                except ValidationError as exc:
                    return _error(422, f"Format error in JSON body: {exc}")
                except ValueError as exc:  # what the in-memory client raises for a bad request
                    message = str(exc)
                    if "not found" in message:
                        return _error(404, f"Not found: {message}")
                    if "already exists" in message:
                        return _error(409, f"Wrong input: {message}")
                    return _error(400, message if message.startswith("Wrong input") else f"Wrong input: {message}")
                except Exception as exc:  # noqa: BLE001 - a server answers 500, it does not hang up
                    return _error(500, f"Service internal error: {type(exc).__name__}: {exc}")
                return 200, {"result": to_jsonable_python(result, exclude_none=True), "status": "ok", "time": 0.0}
        return _error(404, f"Not found: {method} {path}")

    def _route_table(self):
        c = f"/collections/{NAME}"
        return [
            ("GET", r"/collections", lambda body: self.local.get_collections()),
            ("GET", r"/aliases", lambda body: self.local.get_aliases()),
            ("POST", r"/collections/aliases", self._change_aliases),
            ("GET", c + r"/aliases", lambda body, name: self.local.get_collection_aliases(name)),
            ("GET", c + r"/exists", lambda body, name: m.CollectionExistence(exists=self.local.collection_exists(name))),
            ("PUT", c, self._create_collection),
            ("GET", c, self._get_collection),
            ("DELETE", c, self._delete_collection),
            ("PUT", c + r"/index", self._create_index),
            ("DELETE", c + r"/index/(?P<field>[^/]+)", self._delete_index),
            ("PUT", c + r"/points", self._upsert),
            ("POST", c + r"/points", self._retrieve),
            ("POST", c + r"/points/delete", self._delete_points),
            ("PUT", c + r"/points/vectors", self._update_vectors),
            ("POST", c + r"/points/query", self._query),
            ("POST", c + r"/points/query/batch", self._query_batch),
            ("POST", c + r"/points/scroll", self._scroll),
            ("POST", c + r"/points/count", self._count),
        ]

    def _collection(self, name: str) -> str:
        """The collection ``name`` means (an alias resolves, as on a server); 404 if none."""
        if not self.local.collection_exists(name):
            raise StubError(404, f"Not found: Collection `{name}` doesn't exist!")
        return name

    # -- collections ------------------------------------------------------------------------------
    def _create_collection(self, body, name):
        request = parse(m.CreateCollection, body)
        if self.local.collection_exists(name):
            raise StubError(409, f"Wrong input: Collection `{name}` already exists!")
        return self.local.create_collection(name, vectors_config=request.vectors,
                                            sparse_vectors_config=request.sparse_vectors)

    def _get_collection(self, body, name):
        info = self.local.get_collection(self._collection(name))
        indexed = self.indexed.get(name, {})
        count = info.points_count or 0
        info.payload_schema = {field: m.PayloadIndexInfo(data_type=m.PayloadSchemaType(schema), points=count)
                               for field, schema in indexed.items()}
        return info

    def _delete_collection(self, body, name):
        self.indexed.pop(name, None)
        return self.local.delete_collection(name)

    def _change_aliases(self, body):
        request = parse(m.ChangeAliasesOperation, body)
        return self.local.update_collection_aliases(change_aliases_operations=request.actions)

    def _create_index(self, body, name):
        request = parse(m.CreateFieldIndex, body)
        self.local.create_payload_index(self._collection(name), field_name=request.field_name,
                                        field_schema=request.field_schema)
        schema = request.field_schema
        if isinstance(schema, m.PayloadSchemaType):
            schema = schema.value
        elif schema is not None and not isinstance(schema, str):  # params (KeywordIndexParams, ...)
            schema = schema.type.value if hasattr(schema.type, "value") else schema.type
        self.indexed.setdefault(name, {})[request.field_name] = schema
        return m.UpdateResult(operation_id=0, status=m.UpdateStatus.COMPLETED)

    def _delete_index(self, body, name, field):
        self._collection(name)
        self.indexed.get(name, {}).pop(field, None)
        return m.UpdateResult(operation_id=0, status=m.UpdateStatus.COMPLETED)

    # -- points ---------------------------------------------------------------------------------
    def _upsert(self, body, name):
        request = parse(m.PointInsertOperations, body)
        points = request.points if isinstance(request, m.PointsList) else request.batch
        return self.local.upsert(self._collection(name), points=points, update_filter=request.update_filter)

    def _retrieve(self, body, name):
        request = parse(m.PointRequest, body)
        return self.local.retrieve(self._collection(name), ids=request.ids, with_payload=request.with_payload,
                                   with_vectors=request.with_vector)

    def _delete_points(self, body, name):
        return self.local.delete(self._collection(name), points_selector=parse(m.PointsSelector, body))

    def _update_vectors(self, body, name):
        request = parse(m.UpdateVectors, body)
        return self.local.update_vectors(self._collection(name), points=request.points,
                                         update_filter=request.update_filter)

    def _query(self, body, name):
        return self._run_query(self._collection(name), parse(m.QueryRequest, body))

    def _query_batch(self, body, name):
        request = parse(m.QueryRequestBatch, body)
        name = self._collection(name)
        return [self._run_query(name, search) for search in request.searches]

    def _run_query(self, name: str, request: m.QueryRequest) -> m.QueryResponse:
        return self.local.query_points(
            name, query=request.query, using=request.using, prefetch=request.prefetch,
            query_filter=request.filter, search_params=request.params,
            limit=request.limit if request.limit is not None else 10, offset=request.offset,
            with_payload=request.with_payload if request.with_payload is not None else False,
            with_vectors=request.with_vector if request.with_vector is not None else False,
            score_threshold=request.score_threshold, lookup_from=request.lookup_from,
        )

    def _scroll(self, body, name):
        request = parse(m.ScrollRequest, body)
        points, offset = self.local.scroll(
            self._collection(name), scroll_filter=request.filter,
            limit=request.limit if request.limit is not None else 10, order_by=request.order_by,
            offset=request.offset,
            with_payload=request.with_payload if request.with_payload is not None else True,
            with_vectors=request.with_vector if request.with_vector is not None else False,
        )
        return m.ScrollResult(points=points, next_page_offset=offset)

    def _count(self, body, name):
        request = parse(m.CountRequest, body)
        return self.local.count(self._collection(name), count_filter=request.filter,
                                exact=request.exact if request.exact is not None else True)


def _error(status: int, message: str) -> tuple[int, dict]:
    return status, {"status": {"error": message}, "time": 0.0}
