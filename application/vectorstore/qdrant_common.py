"""What both Qdrant engines build alike: the source filter, a sparse vector, a scored point.

Qdrant Edge (``qdrant_edge``) mirrors qdrant-client's request models class for class and keyword for
keyword (``Filter(must=[FieldCondition(key=..., match=MatchAny(any=...))])``, ``SparseVector(indices=...,
values=...)``), but the classes are the engine's own: a qdrant-client model is refused by Edge and the
other way round. So each helper takes the engine's model namespace, ``models`` (``qdrant_client.models``
or the ``qdrant_edge`` module), and the request is written once. What differs stays in each store:
Edge names its dense vector (``dense``) and plans a query batch itself; a server keeps the unnamed
dense vector of collections made before the lexical leg.

    >>> source_filter(qdrant_client.models, ["s1"])  # per-source search and delete
"""
from __future__ import annotations

from typing import Sequence

from application.vectorstore.base import ScoredPoint

# the payload field that per-source search and delete filter on; both engines index it (keyword)
SOURCE_FIELD = "source_id"
SCROLL_PAGE = 1000  # points per page when listing a collection's ids


def source_filter(models, source_ids: Sequence[str]):
    """Points of any of ``source_ids``."""
    return models.Filter(must=[models.FieldCondition(key=SOURCE_FIELD, match=models.MatchAny(any=list(source_ids)))])


def sparse_vector(models, vector):
    """``plugins.lexical.SparseVector`` as the engine's sparse vector."""
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


def scored_points(points) -> list[ScoredPoint]:
    """The engine's scored points (``id``, ``score``, ``payload``: the same in both) as ours."""
    return [ScoredPoint(id=str(p.id), score=float(p.score), payload=p.payload or {}) for p in points]
