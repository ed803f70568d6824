"""Qdrant behind the ``VectorStore`` seam: local mode (a folder) or a server, same code."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable, Sequence

from qdrant_client import QdrantClient, models

from application.errors import ServiceUnavailable
from application.vectorstore.base import ACTIVE_ALIAS, ScoredPoint, VectorPoint, VectorStore

log = logging.getLogger(__name__)

# payload fields that filters use; a Qdrant server needs an index on them to filter fast at scale
PAYLOAD_INDEXES = {"source_id": models.PayloadSchemaType.KEYWORD}


class QdrantVectorStore(VectorStore):
    def __init__(self, client: QdrantClient, *, remote: bool):
        self.client = client
        self.remote = remote

    @classmethod
    def open(cls, *, url: str | None, api_key: str | None, path: Path, timeout: int = 30) -> "QdrantVectorStore":
        if url:
            try:
                client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
                client.get_collections()
            except Exception as exc:
                raise ServiceUnavailable(f"Cannot reach the Qdrant server at {url}: {exc}") from exc
            return cls(client, remote=True)
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as exc:
            if "already accessed" in str(exc):
                raise ServiceUnavailable(
                    f"The Qdrant folder {path} is in use by another DocsTune process (local mode allows one). "
                    f"Stop that process, run one server with threads (docstune serve), or set QDRANT_URL to a "
                    f"Qdrant server to share the index between processes."
                ) from exc
            raise
        return cls(client, remote=False)

    # -- collections -----------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    def create_collection(self, name: str, dimension: int) -> None:
        self.client.create_collection(
            collection_name=name,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
        )
        if self.remote:
            # local mode ignores payload indexes (and warns); a server needs them for filters
            for field_name, schema in PAYLOAD_INDEXES.items():
                self.client.create_payload_index(name, field_name=field_name, field_schema=schema)

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
            points=[models.PointStruct(id=p.id, vector=p.vector, payload=p.payload) for p in points],
            wait=True,
        )

    def delete(self, collection: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self.client.delete(collection, points_selector=models.PointIdsList(points=ids), wait=True)

    def delete_source(self, collection: str, source_id: str) -> None:
        self.client.delete(
            collection,
            points_selector=models.FilterSelector(filter=_source_filter([source_id])),
            wait=True,
        )

    def search(
        self, collection: str, vector: list[float], k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]:
        response = self.client.query_points(
            collection_name=collection,
            query=vector,
            limit=k,
            query_filter=_source_filter(source_ids) if source_ids else None,
            with_payload=True,
        )
        return [ScoredPoint(id=str(p.id), score=float(p.score), payload=p.payload or {}) for p in response.points]

    def point_ids(self, collection: str) -> set[str]:
        ids: set[str] = set()
        offset = None
        while True:
            points, offset = self.client.scroll(
                collection, limit=1000, offset=offset, with_payload=False, with_vectors=False
            )
            ids.update(str(p.id) for p in points)
            if offset is None:
                return ids

    def close(self) -> None:
        self.client.close()


def _source_filter(source_ids: Sequence[str]) -> models.Filter:
    return models.Filter(
        must=[models.FieldCondition(key="source_id", match=models.MatchAny(any=list(source_ids)))]
    )
