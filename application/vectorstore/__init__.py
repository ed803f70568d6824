"""Vector stores, chosen by ``VECTOR_STORE``. Only Qdrant today; the seam is ``VectorStore``."""
from __future__ import annotations

from application.errors import BadRequest
from application.vectorstore.base import (
    ACTIVE_ALIAS,
    ScoredPoint,
    SearchHit,
    VectorPoint,
    VectorStore,
    collection_name_for,
)


def create_vector_store(settings) -> VectorStore:
    if settings.vector_store == "qdrant":
        from application.vectorstore.qdrant import QdrantVectorStore

        return QdrantVectorStore.open(
            url=settings.qdrant_url,
            api_key=settings.qdrant_api_key,
            path=settings.qdrant_path_resolved,
            timeout=settings.qdrant_timeout,
        )
    raise BadRequest(f"Unknown VECTOR_STORE {settings.vector_store!r}; supported: qdrant")


__all__ = [
    "ACTIVE_ALIAS",
    "ScoredPoint",
    "SearchHit",
    "VectorPoint",
    "VectorStore",
    "collection_name_for",
    "create_vector_store",
]
