"""A Qdrant server behind the ``VectorStore`` seam (``QDRANT_URL``), through qdrant-client.

The embedded default is Qdrant Edge (``application.vectorstore.edge``). qdrant-client's local
mode (a pure-Python scan) is opened only to copy the folder of an install from before Edge into
Edge, once (``application.vectorstore.local_mode_upgrade``), and by the benchmark that compares them.
"""
from __future__ import annotations

import functools
import logging
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from application.errors import ServiceUnavailable
from application.redaction import redact_url
from application.vectorstore.base import (ACTIVE_ALIAS, LEXICAL_VECTOR, ScoredPoint, VectorPoint, VectorStore,
                                         folder_in_use_error)
from application.vectorstore.qdrant_common import SCROLL_PAGE, SOURCE_FIELD, scored_points, source_filter, sparse_vector

log = logging.getLogger(__name__)

# payload fields that filters use (``source_filter``: per-source search and delete); a Qdrant server
# needs an index on them to filter fast at scale. Created with every collection, in both modes.
PAYLOAD_INDEXES = {SOURCE_FIELD: models.PayloadSchemaType.KEYWORD}
# what local mode says when asked for one (it accepts the call and keeps no index: it scans anyway)
_LOCAL_INDEX_WARNING = "Payload indexes have no effect in the local Qdrant"


class QdrantVectorStore(VectorStore):
    def __init__(self, client: QdrantClient, *, remote: bool):
        self.client = client
        self.remote = remote

    @classmethod
    def open(cls, *, url: str, api_key: str | None, timeout: int = 30) -> "QdrantVectorStore":
        client = ServerClient(url=url, api_key=api_key, timeout=timeout)
        client.get_collections()  # fail now, saying why, rather than at the first question
        return cls(client, remote=True)

    @classmethod
    def open_local_folder(cls, path: Path) -> "QdrantVectorStore":
        """A qdrant-client local-mode folder (DocsTune before Qdrant Edge), to copy it into Edge."""
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise folder_in_use_error(path) from exc
            raise
        return cls(client, remote=False)

    # -- collections -----------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def create_collection(self, name: str, dimension: int) -> None:
        self.client.create_collection(
            collection_name=name,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            sparse_vectors_config={LEXICAL_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        self._create_payload_indexes(name, PAYLOAD_INDEXES)

    def ensure_payload_indexes(self, name: str) -> list[str]:
        """A collection made on a server before an index was added here gets it now (at start-up:
        the server builds it in the background while it keeps serving). Local mode keeps no index."""
        if not self.remote:
            return []
        have = self.client.get_collection(name).payload_schema or {}
        missing = {field: schema for field, schema in PAYLOAD_INDEXES.items() if field not in have}
        if missing:
            log.warning("Creating the payload index(es) %s that collection %s lacks", ", ".join(missing), name)
            self._create_payload_indexes(name, missing, wait=False)  # a big collection: don't hold the start
        return sorted(missing)

    def _create_payload_indexes(self, name: str, indexes: dict, wait: bool = True) -> None:
        # the same calls in both modes: a server builds the index, local mode accepts it and warns
        # that it scans anyway (said once here, not on every new collection)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_LOCAL_INDEX_WARNING, category=UserWarning)
            for field_name, schema in indexes.items():
                self.client.create_payload_index(name, field_name=field_name, field_schema=schema, wait=wait)

    def drop_collection(self, name: str) -> None:
        self.client.delete_collection(name)

    def list_collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def vector_size(self, name: str) -> int:
        vectors = self.client.get_collection(name).config.params.vectors
        return int(vectors.size)

    def count(self, name: str) -> int:
        return int(self.client.count(name, exact=True).count)

    # -- alias ------------------------------------------------------------------------
    def alias_target(self, alias: str = ACTIVE_ALIAS) -> str | None:
        for description in self.client.get_aliases().aliases:
            if description.alias_name == alias:
                return description.collection_name
        return None

    def switch_alias(self, collection: str, alias: str = ACTIVE_ALIAS) -> None:
        operations: list = []
        if self.alias_target(alias) is not None:
            operations.append(models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)))
        operations.append(
            models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=collection, alias_name=alias))
        )
        # one request: Qdrant applies the whole list atomically, readers never see no alias
        self.client.update_collection_aliases(change_aliases_operations=operations)

    # -- points -----------------------------------------------------------------------
    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        self.client.upsert(
            collection_name=collection,
            points=[models.PointStruct(id=p.id, vector=_point_vector(p), payload=p.payload) for p in points],
            wait=True,
        )

    def delete(self, collection: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.client.delete(collection, points_selector=models.PointIdsList(points=ids), wait=True)

    def delete_source(self, collection: str, source_id: str) -> None:
        self.client.delete(
            collection,
            points_selector=models.FilterSelector(filter=source_filter(models, [source_id])),
            wait=True,
        )

    def search(
        self, collection: str, vector: list[float], k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]:
        response = self.client.query_points(
            collection_name=collection,
            query=vector,
            limit=k,
            query_filter=source_filter(models, source_ids) if source_ids else None,
            with_payload=True,
        )
        return scored_points(response.points)

    # -- the lexical leg ------------------------------------------------------------------
    def has_lexical(self, name: str) -> bool:
        return LEXICAL_VECTOR in (self.client.get_collection(name).config.params.sparse_vectors or {})

    def add_lexical(self, name: str) -> None:
        if not self.has_lexical(name):
            # Qdrant cannot add a vector name to an existing collection: a new collection is needed
            raise ValueError(f"The collection {name} was made before lexical vectors existed and Qdrant cannot add "
                             f"them in place; re-index into a new collection (promote another model version) or "
                             f"keep RETRIEVAL_MODE=dense for it.")

    def set_lexical(self, collection: str, vectors: dict[str, object]) -> None:
        if vectors:
            self.client.update_vectors(collection, points=[
                models.PointVectors(id=pid, vector={LEXICAL_VECTOR: sparse_vector(models, v)})
                for pid, v in vectors.items()], wait=True)

    def search_lexical(
        self, collection: str, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]:
        if not sparse.indices:
            return []
        response = self.client.query_points(collection_name=collection, query=sparse_vector(models, sparse),
                                            using=LEXICAL_VECTOR, limit=k, with_payload=True,
                                            query_filter=source_filter(models, source_ids) if source_ids else None)
        return scored_points(response.points)

    def search_legs(
        self, collection: str, vector: list[float] | None, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> tuple[list[ScoredPoint], list[ScoredPoint]]:
        if vector is None or sparse is None or not sparse.indices:
            return super().search_legs(collection, vector, sparse, k, source_ids)
        where = source_filter(models, source_ids) if source_ids else None
        # one round trip; ids and scores only (serving reads the hits' rows from SQL)
        dense, lexical = self.client.query_batch_points(collection_name=collection, requests=[
            models.QueryRequest(query=vector, limit=k, filter=where, with_payload=False),
            models.QueryRequest(query=sparse_vector(models, sparse), using=LEXICAL_VECTOR, limit=k, filter=where,
                                with_payload=False),
        ])
        return scored_points(dense.points), scored_points(lexical.points)

    def point_ids(self, collection: str) -> set[str]:
        ids: set[str] = set()
        offset = None
        while True:
            points, offset = self.client.scroll(
                collection, limit=SCROLL_PAGE, offset=offset, with_payload=False, with_vectors=False
            )
            ids.update(str(p.id) for p in points)
            if offset is None:
                return ids

    def close(self) -> None:
        self.client.close()


def _point_vector(point: VectorPoint):
    # the dense vector stays the unnamed default one (collections made before the lexical leg have only it)
    if point.sparse is None:
        return point.vector
    return {"": point.vector, LEXICAL_VECTOR: sparse_vector(models, point.sparse)}


# -- a Qdrant server: the same client calls, with errors a person can act on -----------------------
def server_error(exc: BaseException, url: str, timeout: float, api_key: str | None = None) -> ServiceUnavailable | None:
    """``exc`` from talking to the Qdrant server at ``url`` as one clear line, or ``None`` if it is
    an answer the caller handles (a 404, a 400 about a bad request). Never contains the API key."""
    where = redact_url(url)
    cause = exc.source if isinstance(exc, ResponseHandlingException) else exc
    if isinstance(exc, UnexpectedResponse):
        code = exc.status_code
        if code in (401, 403):
            detail = "no API key was sent: set QDRANT_API_KEY" if not api_key else "check QDRANT_API_KEY"
            message = f"The Qdrant server at {where} rejected the API key (HTTP {code}): {detail}."
        elif code is not None and code >= 500:
            message = (f"The Qdrant server at {where} failed (HTTP {code} {exc.reason_phrase}): "
                       f"{exc.content[:200].decode('utf-8', 'replace')}")
        else:
            return None
    elif isinstance(cause, httpx.TimeoutException):
        message = (f"The Qdrant server at {where} did not answer within {timeout:g} s (QDRANT_TIMEOUT): "
                   f"{type(cause).__name__}. Is it overloaded, or is QDRANT_URL pointing at something else?")
    elif isinstance(cause, httpx.TransportError):
        message = (f"Cannot reach Qdrant at {where}: {cause or type(cause).__name__}. Is the server running, "
                   f"and is QDRANT_URL right?")
    elif isinstance(exc, ResponseHandlingException):
        message = (f"The server at {where} answered something that is not Qdrant's API ({type(cause).__name__}); "
                   f"is QDRANT_URL right?")
    else:
        return None
    if api_key:
        message = message.replace(api_key, "***")
    return ServiceUnavailable(message)


class ServerClient:
    """A ``QdrantClient(url=...)`` whose connection, time-out and authorisation errors become one
    ``ServiceUnavailable`` naming the server (the API answers 503, ``/ready`` shows it, the CLI
    prints it). Every call goes to the real client unchanged: the store's code is the same in
    local mode and on a server."""

    _WRAPPED = (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError)

    def __init__(self, *, url: str, api_key: str | None, timeout: float):
        self.url, self.timeout, self._api_key = url, timeout, api_key
        try:
            self._client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
        except Exception as exc:  # a malformed URL, an unknown scheme
            message = f"Cannot use QDRANT_URL={redact_url(url)}: {exc}"
            raise ServiceUnavailable(message.replace(api_key, "***") if api_key else message) from exc

    def __getattr__(self, name: str):
        if name.startswith("_"):  # _client itself, before __init__ set it; private attributes stay private
            raise AttributeError(name)
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        @functools.wraps(attribute)
        def call(*args, **kwargs):
            try:
                return attribute(*args, **kwargs)
            except self._WRAPPED as exc:
                error = server_error(exc, self.url, self.timeout, self._api_key)
                if error is None:
                    raise
                raise error from exc

        return call

    def __repr__(self) -> str:
        return f"ServerClient({redact_url(self.url)!r})"
