"""Vector stores, chosen by ``VECTOR_STORE`` (Qdrant) and ``QDRANT_URL``: unset, the embedded engine
(Qdrant Edge, a folder); set, a Qdrant server. The seam is ``VectorStore``."""
from __future__ import annotations

from application.errors import BadRequest
from application.vectorstore.base import (
    ACTIVE_ALIAS,
    LEGACY_PREFIX,
    ScoredPoint,
    SearchHit,
    VectorPoint,
    VectorStore,
    collection_name_for,
)


def create_vector_store(settings) -> VectorStore:
    if settings.vector_store == "qdrant":
        if not settings.qdrant_url:
            from application.vectorstore.edge import EdgeVectorStore

            return EdgeVectorStore.open(settings.qdrant_path_resolved)
        from application.vectorstore.qdrant import QdrantVectorStore

        return QdrantVectorStore.open(url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                                      timeout=settings.qdrant_timeout)
    raise BadRequest(f"Unknown VECTOR_STORE {settings.vector_store!r}; supported: qdrant")


__all__ = [
    "ACTIVE_ALIAS",
    "LEGACY_PREFIX",
    "ScoredPoint",
    "SearchHit",
    "VectorPoint",
    "VectorStore",
    "collection_name_for",
    "create_vector_store",
]
