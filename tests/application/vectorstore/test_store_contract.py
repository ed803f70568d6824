"""What every ``VectorStore`` does: one specification, run against both engines.

* ``edge``: ``EdgeVectorStore``, Qdrant Edge in this process, in a temporary folder (for real);
* ``server``: ``QdrantVectorStore`` over real HTTP to ``tests.qdrant_stub.QdrantStub`` (Qdrant's
  REST API executed by qdrant-client's in-memory engine), as with ``QDRANT_URL``.

A behaviour the rest of DocsTune relies on belongs here, so that the two stores cannot drift
apart. Vectors are small (8-d) and deterministic; chunk ids are uuid5 strings, as in SQL.
"""
from __future__ import annotations

import math
import threading
import uuid

import numpy as np
import pytest

from application.vectorstore.base import ACTIVE_ALIAS, VectorPoint, VectorStore
from application.vectorstore.edge import EdgeVectorStore
from application.vectorstore.qdrant import QdrantVectorStore
from plugins.lexical import SparseVector
from tests.qdrant_stub import QdrantStub

DIM = 8
NAME = "chunks__contract"
OTHER = "chunks__other"


@pytest.fixture(params=["edge", "server"])
def store(request, tmp_path) -> VectorStore:
    if request.param == "edge":
        opened = EdgeVectorStore.open(tmp_path / "qdrant")
        yield opened
        opened.close()
        return
    stub = QdrantStub().start()
    opened = QdrantVectorStore.open(url=stub.url, api_key=None)
    yield opened
    opened.close()
    stub.wait_for("GET", "/")  # the client's version check, in its own thread
    stub.stop()


# -- deterministic data ---------------------------------------------------------------------
def chunk_id(i: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"docstune-contract-chunk-{i}"))


def vector(i: int) -> list[float]:
    return np.random.default_rng(i).normal(size=DIM).round(4).tolist()


def payload(i: int, source: str) -> dict:
    return {"chunk_id": chunk_id(i), "source_id": source, "title": f"Doc {source}", "uri": f"file:///{source}.md",
            "position": i, "page": None}


def point(i: int, source: str = "s1", sparse: SparseVector | None = None) -> VectorPoint:
    return VectorPoint(chunk_id(i), vector(i), payload(i, source), sparse)


def cosine(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def nearest(query, points: list[VectorPoint], k: int) -> list[tuple[str, float]]:
    scored = sorted(((p.id, cosine(query, p.vector)) for p in points), key=lambda pair: -pair[1])
    return scored[:k]


def with_points(store: VectorStore, points: list[VectorPoint], name: str = NAME) -> list[VectorPoint]:
    store.create_collection(name, DIM)
    store.upsert(name, points)
    return points


# -- collections -----------------------------------------------------------------------------
def test_a_new_collection_has_its_dimension_and_no_points(store):
    assert not store.collection_exists(NAME)
    assert store.list_collections() == []

    store.create_collection(NAME, DIM)

    assert store.collection_exists(NAME)
    assert store.list_collections() == [NAME]
    assert store.vector_size(NAME) == DIM
    assert store.count(NAME) == 0
    assert store.point_ids(NAME) == set()
    assert store.search(NAME, vector(0), 5) == []
    assert store.has_lexical(NAME)  # every new collection gets the lexical sparse vector


def test_creating_a_collection_that_exists_fails_and_keeps_its_points(store):
    with_points(store, [point(1)])
    with pytest.raises(Exception):
        store.create_collection(NAME, DIM)
    assert store.count(NAME) == 1


def test_drop_collection_removes_it_and_list_collections(store):
    store.create_collection(NAME, DIM)
    with_points(store, [point(1), point(2)], name=OTHER)
    assert store.list_collections() == sorted([NAME, OTHER])

    store.drop_collection(OTHER)

    assert store.list_collections() == [NAME]
    assert not store.collection_exists(OTHER)
    store.drop_collection(OTHER)  # dropping what is gone is a no-op
    store.create_collection(OTHER, 4)  # the name is free again, with nothing left of the old one
    assert store.vector_size(OTHER) == 4 and store.count(OTHER) == 0


@pytest.mark.parametrize("operation", ["count", "search", "upsert", "point_ids", "switch_alias"])
def test_operations_on_a_missing_collection_fail(store, operation):
    calls = {
        "count": lambda: store.count("chunks__missing"),
        "search": lambda: store.search("chunks__missing", vector(0), 3),
        "upsert": lambda: store.upsert("chunks__missing", [point(1)]),
        "point_ids": lambda: store.point_ids("chunks__missing"),
        "switch_alias": lambda: store.switch_alias("chunks__missing"),
    }
    with pytest.raises(Exception):
        calls[operation]()
    assert store.list_collections() == [] and store.alias_target() is None


# -- points and search -----------------------------------------------------------------------
def test_upsert_then_search_returns_the_nearest_first_with_payload(store):
    points = with_points(store, [point(i, source=f"s{i % 3}") for i in range(20)])
    query = vector(1000)

    hits = store.search(NAME, query, 5)

    expected = nearest(query, points, 5)
    assert [h.id for h in hits] == [pid for pid, _ in expected]
    for hit, (_, score) in zip(hits, expected):
        assert isinstance(hit.id, str)
        assert hit.score == pytest.approx(score, abs=1e-5)  # cosine similarity
    by_id = {p.id: p for p in points}
    assert [h.payload for h in hits] == [by_id[h.id].payload for h in hits]  # every field, None included
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))


def test_a_point_is_its_own_nearest_with_score_one(store):
    with_points(store, [point(i) for i in range(5)])
    best = store.search(NAME, vector(3), 1)
    assert [h.id for h in best] == [chunk_id(3)] and best[0].score == pytest.approx(1.0, abs=1e-5)


def test_search_returns_at_most_k_and_every_point_when_k_is_larger(store):
    with_points(store, [point(i) for i in range(4)])
    assert len(store.search(NAME, vector(99), 2)) == 2
    assert {h.id for h in store.search(NAME, vector(99), 50)} == {chunk_id(i) for i in range(4)}


def test_search_with_source_ids_only_returns_those_sources(store):
    points = with_points(store, [point(i, source=f"s{i % 4}") for i in range(40)])
    query = vector(2000)

    hits = store.search(NAME, query, 6, source_ids=["s1", "s3"])

    allowed = [p for p in points if p.payload["source_id"] in ("s1", "s3")]
    assert [h.id for h in hits] == [pid for pid, _ in nearest(query, allowed, 6)]
    assert {h.payload["source_id"] for h in hits} <= {"s1", "s3"}
    assert store.search(NAME, query, 6, source_ids=["nobody"]) == []
    assert len(store.search(NAME, query, 6, source_ids=None)) == 6  # None: every source


def test_delete_source_removes_only_its_points(store):
    with_points(store, [point(i, source=f"s{i % 3}") for i in range(30)])

    store.delete_source(NAME, "s1")

    assert store.count(NAME) == 20
    assert store.point_ids(NAME) == {chunk_id(i) for i in range(30) if i % 3 != 1}
    assert store.search(NAME, vector(1), 30, source_ids=["s1"]) == []
    store.delete_source(NAME, "nobody")  # a source without points: nothing happens
    assert store.count(NAME) == 20


def test_delete_by_ids(store):
    with_points(store, [point(i) for i in range(10)])

    store.delete(NAME, [chunk_id(2), chunk_id(7)])
    store.delete(NAME, iter([chunk_id(3)]))  # any iterable
    store.delete(NAME, [])  # nothing to delete
    store.delete(NAME, [chunk_id(12345)])  # an id that is not there

    assert store.point_ids(NAME) == {chunk_id(i) for i in range(10) if i not in (2, 3, 7)}
    assert chunk_id(2) not in {h.id for h in store.search(NAME, vector(2), 10)}


def test_upsert_same_id_replaces(store):
    with_points(store, [point(i) for i in range(3)])
    replacement = VectorPoint(chunk_id(1), vector(500), {**payload(1, "s9"), "title": "Rewritten"})

    store.upsert(NAME, [replacement])

    assert store.count(NAME) == 3
    best = store.search(NAME, vector(500), 1)[0]
    assert best.id == chunk_id(1) and best.score == pytest.approx(1.0, abs=1e-5)
    assert best.payload == replacement.payload  # the payload is replaced, not merged
    assert store.search(NAME, vector(1), 3, source_ids=["s1"])[0].id != chunk_id(1)


def test_an_empty_upsert_is_a_no_op(store):
    with_points(store, [point(1)])
    store.upsert(NAME, [])
    assert store.count(NAME) == 1


def test_point_ids_pages_past_1000_points(store):
    points = [point(i) for i in range(2345)]
    store.create_collection(NAME, DIM)
    for start in range(0, len(points), 500):
        store.upsert(NAME, points[start:start + 500])

    assert store.point_ids(NAME) == {p.id for p in points}
    assert all(isinstance(pid, str) for pid in store.point_ids(NAME))


def test_count_is_exact(store):
    store.create_collection(NAME, DIM)
    expected: set[str] = set()
    for round_ in range(5):  # upserts, overwrites and deletes, counted after each without a flush
        batch = [point(i, source=f"s{round_}") for i in range(round_ * 7, round_ * 7 + 13)]
        store.upsert(NAME, batch)
        expected |= {p.id for p in batch}
        gone = [chunk_id(round_ * 7 + 1), chunk_id(round_ * 7 + 2)]
        store.delete(NAME, gone)
        expected -= set(gone)
        assert store.count(NAME) == len(expected) == len(store.point_ids(NAME))


def test_upsert_of_wrong_dimension_fails_and_keeps_the_points(store):
    with_points(store, [point(i) for i in range(5)])

    with pytest.raises(Exception):
        store.upsert(NAME, [VectorPoint(chunk_id(100), [0.1, 0.2, 0.3], payload(100, "s1"))])
    with pytest.raises(Exception):  # an existing point with a vector of the wrong size: the old one stays
        store.upsert(NAME, [VectorPoint(chunk_id(2), [1.0] * (DIM + 1), payload(2, "changed"))])

    assert store.count(NAME) == 5
    assert store.point_ids(NAME) == {chunk_id(i) for i in range(5)}
    best = store.search(NAME, vector(2), 1)[0]
    assert best.id == chunk_id(2) and best.payload == payload(2, "s1")


def test_a_batch_with_one_point_of_the_wrong_dimension_writes_nothing(store):
    with_points(store, [point(i) for i in range(3)])

    with pytest.raises(Exception):
        store.upsert(NAME, [point(10), VectorPoint(chunk_id(11), [0.1, 0.2], payload(11, "s1")), point(12)])

    assert store.point_ids(NAME) == {chunk_id(i) for i in range(3)}


# -- the alias ---------------------------------------------------------------------------------
def test_switch_alias_moves_atomically_and_alias_target_follows(store):
    with_points(store, [point(1)])
    with_points(store, [point(2)], name=OTHER)
    assert store.alias_target() is None and store.alias_target(ACTIVE_ALIAS) is None

    store.switch_alias(NAME)
    assert store.alias_target() == NAME
    store.switch_alias(NAME)  # switching to where it points already changes nothing
    assert store.alias_target() == NAME

    seen: list[str | None] = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            seen.append(store.alias_target())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            store.switch_alias(OTHER if i % 2 == 0 else NAME)
    finally:
        done.set()
        thread.join()

    assert store.alias_target() == NAME
    assert seen and set(seen) <= {NAME, OTHER}  # a reader never sees the alias missing mid-switch
    assert store.list_collections() == sorted([NAME, OTHER])  # an alias is not a collection
    assert store.count(NAME) == 1 and store.count(OTHER) == 1  # a switch moves no points


def test_aliases_are_independent_and_a_failed_switch_keeps_the_old_target(store):
    store.create_collection(NAME, DIM)
    store.create_collection(OTHER, DIM)
    store.switch_alias(NAME)
    store.switch_alias(OTHER, alias="chunks_candidate")

    with pytest.raises(Exception):
        store.switch_alias("chunks__missing")

    assert store.alias_target() == NAME
    assert store.alias_target("chunks_candidate") == OTHER
    assert store.alias_target("chunks_unknown") is None


def test_dropping_the_collection_an_alias_points_at_removes_that_alias_only(store):
    # Qdrant removes a collection's aliases with it; DocsTune never drops the serving collection
    # (index.drop_collection refuses), but a store must not name a collection that is gone
    store.create_collection(NAME, DIM)
    store.create_collection(OTHER, DIM)
    store.switch_alias(NAME)
    store.switch_alias(OTHER, alias="chunks_candidate")

    store.drop_collection(NAME)

    assert store.alias_target() is None
    assert store.alias_target("chunks_candidate") == OTHER


# -- the lexical leg (BM25 term weights; Qdrant applies the IDF) -----------------------------------
def bm25_idf(n_with_term: int, n_points: int) -> float:
    return math.log(1 + (n_points - n_with_term + 0.5) / (n_with_term + 0.5))


def test_lexical_search_scores_with_idf_and_filters_by_source(store):
    store.create_collection(NAME, DIM)
    store.upsert(NAME, [
        point(0, "a", SparseVector([1, 2], [1.0, 2.0])),
        point(1, "b", SparseVector([2, 3], [1.0, 1.0])),
        point(2, "b", SparseVector([4], [1.0])),
        point(3, "c"),  # no lexical vector: never a lexical hit
    ])
    query = SparseVector([1, 2], [1.0, 1.0])

    hits = store.search_lexical(NAME, query, 10)

    n = 3  # IDF counts the points that have a lexical vector
    idf1, idf2 = bm25_idf(1, n), bm25_idf(2, n)
    assert [h.id for h in hits] == [chunk_id(0), chunk_id(1)]
    assert hits[0].score == pytest.approx(1.0 * idf1 + 2.0 * idf2, rel=1e-4)
    assert hits[1].score == pytest.approx(1.0 * idf2, rel=1e-4)
    assert hits[0].payload == payload(0, "a")
    assert [h.id for h in store.search_lexical(NAME, query, 10, source_ids=["b"])] == [chunk_id(1)]
    assert store.search_lexical(NAME, SparseVector([], []), 10) == []  # stop words only: nothing to match


def test_set_lexical_replaces_the_sparse_vector_and_keeps_the_dense_one_and_payload(store):
    store.create_collection(NAME, DIM)
    store.upsert(NAME, [point(0, "a"), point(1, "a", SparseVector([7], [1.0])), point(2, "b")])

    store.set_lexical(NAME, {chunk_id(0): SparseVector([5], [2.0]), chunk_id(1): SparseVector([6], [1.0])})
    store.set_lexical(NAME, {})  # nothing to set

    hits = store.search_lexical(NAME, SparseVector([5], [1.0]), 5)
    assert [h.id for h in hits] == [chunk_id(0)]
    assert hits[0].score == pytest.approx(2.0 * bm25_idf(1, 2), rel=1e-4)  # 2 points have a lexical vector
    assert hits[0].payload == payload(0, "a")
    assert store.search_lexical(NAME, SparseVector([7], [1.0]), 5) == []  # replaced, not merged
    dense = store.search(NAME, vector(0), 1)[0]
    assert dense.id == chunk_id(0) and dense.score == pytest.approx(1.0, abs=1e-5)
    assert store.count(NAME) == 3


def test_search_legs_is_both_searches_in_one_call(store):
    points = [point(i, f"s{i % 2}", SparseVector([i % 5, 10 + i % 3], [1.0, 0.5])) for i in range(12)]
    with_points(store, points)
    query, sparse = vector(77), SparseVector([1, 11], [1.0, 1.0])

    for source_ids in (None, ["s1"]):
        dense, lexical = store.search_legs(NAME, query, sparse, 4, source_ids)
        alone_dense = store.search(NAME, query, 4, source_ids)
        alone_lexical = store.search_lexical(NAME, sparse, 4, source_ids)
        assert [(h.id, round(h.score, 5)) for h in dense] == [(h.id, round(h.score, 5)) for h in alone_dense]
        assert [(h.id, round(h.score, 5)) for h in lexical] == [(h.id, round(h.score, 5)) for h in alone_lexical]
        assert dense and lexical

    assert store.search_legs(NAME, None, sparse, 4)[0] == []  # a leg given None is skipped
    assert store.search_legs(NAME, query, None, 4)[1] == []
    assert store.search_legs(NAME, query, SparseVector([], []), 4)[1] == []


def test_flush_and_optimize_keep_every_point_searchable(store):
    points = with_points(store, [point(i) for i in range(50)])
    store.flush(NAME)
    store.optimize(NAME)
    assert store.count(NAME) == 50
    assert [h.id for h in store.search(NAME, vector(4000), 3)] == [pid for pid, _ in nearest(vector(4000), points, 3)]
