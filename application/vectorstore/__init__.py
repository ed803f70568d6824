"""Vector stores, chosen by ``VECTOR_STORE`` (Qdrant) and ``QDRANT_URL``: unset, the embedded engine
(Qdrant Edge, a folder); set, a Qdrant server. The seam is ``VectorStore``."""
from __future__ import annotations

from application.errors import BadRequest
from application.vectorstore.base import (
    ACTIVE_ALIAS,
    ScoredPoint,
    VectorPoint,
    VectorStore,
    collection_name_for,
)


def create_vector_store(settings) -> VectorStore:
    if settings.vector_store == "qdrant":
        if not settings.qdrant_url:
            from application.vectorstore.edge import EdgeVectorStore
            from application.vectorstore.local_mode_upgrade import upgrade_local_mode

            store = EdgeVectorStore.open(settings.qdrant_path_resolved)
            try:  # an install from before Qdrant Edge: its index is copied into Edge, once
                upgrade_local_mode(settings.qdrant_path_resolved, store)
            except BaseException:
                store.close()
                raise
            return store
        from application.vectorstore.qdrant import QdrantVectorStore

        return QdrantVectorStore.open(url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                                      timeout=settings.qdrant_timeout)
    raise BadRequest(f"Unknown VECTOR_STORE {settings.vector_store!r}; supported: qdrant")


__all__ = [
    "ACTIVE_ALIAS",
    "ScoredPoint",
    "VectorPoint",
    "VectorStore",
    "collection_name_for",
    "create_vector_store",
]
