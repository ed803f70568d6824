"""What the rest of the application needs from a vector store, whatever the engine."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from application.errors import ServiceUnavailable

ACTIVE_ALIAS = "chunks_active"
COLLECTION_PREFIX = "chunks__"


def folder_in_use_error(path: Path) -> ServiceUnavailable:
    """The one start-up error for a vector folder that another process holds."""
    return ServiceUnavailable(
        f"The Qdrant folder {path} is in use by another DocsTune process (the embedded engine allows one). "
        f"Stop that process, run one server with threads (docstune serve), or set QDRANT_URL to a "
        f"Qdrant server to share the index between processes."
    )


def collection_name_for(fingerprint: str) -> str:
    """Each model fingerprint gets its own collection; two models' vectors never mix."""
    return f"{COLLECTION_PREFIX}{fingerprint}"


LEXICAL_VECTOR = "lexical"  # the named sparse vector (BM25 term weights, IDF applied by Qdrant)


@dataclass
class VectorPoint:
    id: str
    vector: list[float]
    payload: dict = field(default_factory=dict)
    sparse: object | None = None  # plugins.lexical.SparseVector: the chunk's lexical vector, if any


@dataclass
class ScoredPoint:
    id: str
    score: float
    payload: dict


class VectorStore(ABC):
    """A thin seam over the engine: collections, one alias, points, search."""

    # whether ``add_lexical`` can give an existing collection the sparse vector (Qdrant Edge can,
    # a Qdrant server cannot add a vector name: there a new collection gets it)
    adds_lexical_in_place = False

    @abstractmethod
    def collection_exists(self, name: str) -> bool: ...

    @abstractmethod
    def create_collection(self, name: str, dimension: int) -> None: ...

    @abstractmethod
    def drop_collection(self, name: str) -> None: ...

    @abstractmethod
    def list_collections(self) -> list[str]: ...

    @abstractmethod
    def vector_size(self, name: str) -> int: ...

    @abstractmethod
    def count(self, name: str) -> int: ...

    @abstractmethod
    def alias_target(self, alias: str = ACTIVE_ALIAS) -> str | None: ...

    @abstractmethod
    def switch_alias(self, collection: str, alias: str = ACTIVE_ALIAS) -> None:
        """Point ``alias`` at ``collection`` in one atomic step."""

    @abstractmethod
    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None: ...

    @abstractmethod
    def delete(self, collection: str, ids: Iterable[str]) -> None: ...

    @abstractmethod
    def delete_source(self, collection: str, source_id: str) -> None: ...

    @abstractmethod
    def search(
        self, collection: str, vector: list[float], k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]: ...

    @abstractmethod
    def point_ids(self, collection: str) -> set[str]: ...

    # -- the lexical leg: a named sparse vector with Qdrant's IDF modifier ----------------
    @abstractmethod
    def has_lexical(self, name: str) -> bool:
        """Whether ``name`` has the sparse vector (collections made before it existed do not)."""

    @abstractmethod
    def add_lexical(self, name: str) -> None:
        """Give an existing collection the sparse vector (its points get values by ``set_lexical``)."""

    @abstractmethod
    def set_lexical(self, collection: str, vectors: dict[str, object]) -> None:
        """Replace the sparse vector of existing points (``{point id: SparseVector}``), keeping the rest."""

    @abstractmethod
    def search_lexical(
        self, collection: str, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]: ...

    def search_legs(
        self, collection: str, vector: list[float] | None, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> tuple[list[ScoredPoint], list[ScoredPoint]]:
        """Both legs of a hybrid search (a leg given ``None`` is skipped: ``[]``); engines batch them. The
        serving path's call: its points carry ids and scores, and an engine may leave their payload out
        (the hits' rows come from SQL)."""
        dense = self.search(collection, vector, k, source_ids) if vector is not None else []
        lexical = self.search_lexical(collection, sparse, k, source_ids) if sparse is not None else []
        return dense, lexical

    def ensure_payload_indexes(self, name: str) -> list[str]:  # noqa: B027 - optional hook
        """Create the payload indexes that ``name`` lacks (made before they existed); the fields created."""
        return []

    def flush(self, name: str) -> None:  # noqa: B027 - optional hook
        """Make every acknowledged write to ``name`` durable on disk (engines that buffer)."""

    def optimize(self, name: str) -> None:  # noqa: B027 - optional hook
        """After a bulk load (a re-index, a big ingest; in a job, never a request): merge segments and
        build the search index. A Qdrant server optimises by itself."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
