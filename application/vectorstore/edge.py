"""Qdrant Edge behind the ``VectorStore`` seam: the embedded default (``QDRANT_URL`` unset).

Qdrant Edge (``qdrant-edge-py``) is the Qdrant server's own engine in a wheel: segments, HNSW,
payload indexes and the query API, in this process, persisted to a folder. Laid out as::

    QDRANT_PATH/                       (default DATA_DIR/qdrant)
        docstune-edge.lock             one process at a time (flock; the kernel frees it when we die)
        aliases.json                   {"chunks_active": "chunks__<fingerprint>"}, replaced atomically
        shards/chunks__<fingerprint>/  one Edge shard per collection (its own WAL, segments, config)
        local-mode-backup/             only after an upgrade from before Edge: the old index, kept aside

A collection is created in a temporary folder and renamed into ``shards/``, so a folder there is
always a whole shard; a crash mid-create leaves a ``.tmp-*`` folder that the next open removes.
Every update is in the shard's write-ahead log when ``update`` returns, so an acknowledged
upsert survives a SIGKILL; ``flush`` (after bulk loads and on close) folds the log into segments.

A folder that qdrant-client's local mode wrote (DocsTune before Edge) is upgraded once, when
``create_vector_store`` opens it (``application.vectorstore.local_mode_upgrade``); this store knows
only its own layout.

Example::

    store = EdgeVectorStore.open(Path("data/qdrant"))
    store.create_collection("chunks__abc", 384)
    store.upsert("chunks__abc", [VectorPoint(id, vector, {"source_id": "s1"})])
    store.search("chunks__abc", query_vector, k=4, source_ids=["s1"])
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Iterable, Sequence

from application.vectorstore.base import (
    ACTIVE_ALIAS,
    LEXICAL_VECTOR,
    ScoredPoint,
    VectorPoint,
    VectorStore,
    folder_in_use_error,
)
from application.vectorstore.qdrant_common import SCROLL_PAGE, SOURCE_FIELD, scored_points, source_filter, sparse_vector
from training.files import atomic_write_text, fsync_dir

log = logging.getLogger(__name__)

LOCK_FILE = "docstune-edge.lock"
ALIASES_FILE = "aliases.json"
SHARDS_DIR = "shards"
DENSE_VECTOR = "dense"  # the named dense vector of every shard, beside the sparse LEXICAL_VECTOR


def _edge():
    import qdrant_edge  # a compiled wheel: imported when a store opens, not when the CLI starts

    return qdrant_edge


class EdgeVectorStore(VectorStore):
    """Collections as Qdrant Edge shards in one folder; the alias as an atomically replaced file."""

    adds_lexical_in_place = True

    def __init__(self, root: Path, lock_file):
        self.root = root
        self._lock_file = lock_file
        self._shards: dict = {}  # name -> open EdgeShard
        self._configs: dict[str, dict] = {}  # name -> its edge_config.json (read on every upsert otherwise)
        self._lock = threading.RLock()
        self._shards_dir.mkdir(exist_ok=True)
        for leftover in self._shards_dir.glob(".tmp-*"):  # a create that a crash interrupted
            shutil.rmtree(leftover, ignore_errors=True)

    @classmethod
    def open(cls, path: Path) -> "EdgeVectorStore":
        path.mkdir(parents=True, exist_ok=True)
        lock_file = open(path / LOCK_FILE, "a+")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise folder_in_use_error(path) from None
        return cls(path, lock_file)

    @property
    def _shards_dir(self) -> Path:
        return self.root / SHARDS_DIR

    def _path(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"Not a collection name: {name!r}")
        return self._shards_dir / name

    def _shard(self, name: str):
        shard = self._shards.get(name)
        if shard is not None:
            return shard
        with self._lock:
            shard = self._shards.get(name)
            if shard is None:
                path = self._path(name)
                if not (path / "edge_config.json").is_file():
                    raise KeyError(f"Collection {name} does not exist")
                shard = self._shards[name] = _edge().EdgeShard.load(str(path))
            return shard

    # -- collections -----------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return (self._path(name) / "edge_config.json").is_file()

    def create_collection(self, name: str, dimension: int) -> None:
        edge = _edge()
        with self._lock:
            final = self._path(name)
            if final.exists():
                raise ValueError(f"Collection {name} already exists")
            temporary = self._shards_dir / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
            config = edge.EdgeConfig(
                vectors={DENSE_VECTOR: edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)},
                sparse_vectors={LEXICAL_VECTOR: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            )
            shard = edge.EdgeShard.create(str(temporary), config)
            try:
                # per-source search and delete filter on it (``source_filter``)
                shard.update(edge.UpdateOperation.create_field_index(SOURCE_FIELD, edge.PayloadSchemaType.Keyword))
                shard.flush()
            finally:
                shard.close()
            os.rename(temporary, final)  # the whole shard appears at once
            fsync_dir(self._shards_dir)

    def drop_collection(self, name: str) -> None:
        with self._lock:
            self._configs.pop(name, None)
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            aliases = self._aliases()
            if name in aliases.values():  # as a Qdrant server does: the collection's aliases go with it
                atomic_write_text(self.root / ALIASES_FILE,
                                  json.dumps({a: c for a, c in aliases.items() if c != name}, indent=1))
            path = self._path(name)
            if path.exists():
                # renamed away first: a crash halfway through the delete leaves a .tmp-* folder, not half a shard
                doomed = self._shards_dir / f".tmp-drop-{name}-{uuid.uuid4().hex[:8]}"
                os.rename(path, doomed)
                shutil.rmtree(doomed, ignore_errors=True)

    def list_collections(self) -> list[str]:
        return sorted(p.name for p in self._shards_dir.iterdir()
                      if not p.name.startswith(".") and (p / "edge_config.json").is_file())

    def _config(self, name: str) -> dict:
        config = self._configs.get(name)
        if config is None:
            config = self._configs[name] = json.loads((self._path(name) / "edge_config.json").read_text())
        return config

    def vector_size(self, name: str) -> int:
        return int(self._config(name)["vectors"][DENSE_VECTOR]["size"])

    def count(self, name: str) -> int:
        return int(self._shard(name).count(_edge().CountRequest(exact=True)))

    # -- alias: our own atomic pointer (Edge has no aliases) --------------------------
    def _aliases(self) -> dict[str, str]:
        try:
            return json.loads((self.root / ALIASES_FILE).read_text())
        except FileNotFoundError:
            return {}

    def alias_target(self, alias: str = ACTIVE_ALIAS) -> str | None:
        return self._aliases().get(alias)

    def switch_alias(self, collection: str, alias: str = ACTIVE_ALIAS) -> None:
        if not self.collection_exists(collection):
            raise KeyError(f"Collection {collection} does not exist")
        with self._lock:
            self._shard(collection).flush()  # what the alias will serve is on disk before it serves
            aliases = {**self._aliases(), alias: collection}
            atomic_write_text(self.root / ALIASES_FILE, json.dumps(aliases, indent=1))

    # -- points -----------------------------------------------------------------------
    def upsert(self, collection: str, points: Sequence[VectorPoint]) -> None:
        if not points:
            return
        size = self.vector_size(collection)
        wrong = [p.id for p in points if len(p.vector) != size]
        if wrong:  # refused as a whole, as a server does (Edge alone would keep the points before the bad one)
            raise ValueError(f"{len(wrong)} point(s) of {collection} have vectors of another dimension than its "
                             f"{size} (first: {wrong[0]}); nothing was written")
        edge = _edge()
        self._shard(collection).update(edge.UpdateOperation.upsert_points([
            edge.Point(p.id, {DENSE_VECTOR: list(p.vector),
                              **({LEXICAL_VECTOR: sparse_vector(edge, p.sparse)} if p.sparse is not None else {})},
                       p.payload)
            for p in points]))

    def delete(self, collection: str, ids: Iterable[str]) -> None:
        ids = list(ids)
        if ids:
            self._shard(collection).update(_edge().UpdateOperation.delete_points(ids))

    def delete_source(self, collection: str, source_id: str) -> None:
        edge = _edge()
        self._shard(collection).update(edge.UpdateOperation.delete_points_by_filter(source_filter(edge, [source_id])))

    def search(
        self, collection: str, vector: list[float], k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]:
        return scored_points(self._shard(collection).query(_dense_request(vector, k, source_ids)))

    def point_ids(self, collection: str) -> set[str]:
        edge = _edge()
        shard = self._shard(collection)
        ids: set[str] = set()
        offset = None
        while True:
            records, offset = shard.scroll(edge.ScrollRequest(offset=offset, limit=SCROLL_PAGE,
                                                              with_payload=False, with_vector=False))
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    # -- the lexical leg ----------------------------------------------------------------
    def has_lexical(self, name: str) -> bool:
        return LEXICAL_VECTOR in (self._config(name).get("sparse_vectors") or {})

    def add_lexical(self, name: str) -> None:
        if not self.has_lexical(name):
            edge = _edge()
            shard = self._shard(name)
            shard.update(edge.UpdateOperation.create_sparse_vector(LEXICAL_VECTOR, modifier=edge.Modifier.Idf))
            shard.flush()
            self._configs.pop(name, None)

    def set_lexical(self, collection: str, vectors: dict[str, object]) -> None:
        if not vectors:
            return
        edge = _edge()
        self._shard(collection).update(edge.UpdateOperation.update_vectors(
            [edge.PointVectors(pid, {LEXICAL_VECTOR: sparse_vector(edge, v)}) for pid, v in vectors.items()]))

    def search_lexical(
        self, collection: str, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> list[ScoredPoint]:
        if not sparse.indices:  # a question of stop words only: nothing to match
            return []
        return scored_points(self._shard(collection).query(_lexical_request(sparse, k, source_ids)))

    def search_legs(
        self, collection: str, vector: list[float] | None, sparse, k: int, source_ids: Sequence[str] | None = None
    ) -> tuple[list[ScoredPoint], list[ScoredPoint]]:
        if vector is None or sparse is None or not sparse.indices:
            return super().search_legs(collection, vector, sparse, k, source_ids)
        edge = _edge()
        # one planned batch: the two legs share a pass over the segments; ids and scores only (serving reads
        # the hits' rows from SQL): converting 2 x 50 payloads to Python held the GIL for 40 % of the call
        dense, lexical = self._shard(collection).query_batch(edge.QueryBatchRequest(
            [_dense_request(vector, k, source_ids, payload=False),
             _lexical_request(sparse, k, source_ids, payload=False)]))
        return scored_points(dense), scored_points(lexical)

    # -- durability and upkeep --------------------------------------------------------
    def flush(self, name: str) -> None:
        self._shard(name).flush()

    def optimize(self, name: str) -> None:
        """Merge segments and build the HNSW index after a bulk load (a job, never a request)."""
        shard = self._shard(name)
        shard.optimize()
        shard.flush()

    def close(self) -> None:
        with self._lock:
            for name, shard in list(self._shards.items()):
                try:
                    shard.flush()
                    shard.close()
                except Exception:
                    log.exception("Could not close the shard %s cleanly", name)
            self._shards.clear()
            if self._lock_file is not None:
                self._lock_file.close()  # releases the folder lock
                self._lock_file = None


def _dense_request(vector, k: int, source_ids, payload: bool = True):
    edge = _edge()
    return edge.QueryRequest(query=edge.Query.Nearest(list(vector), using=DENSE_VECTOR),
                             filter=source_filter(edge, source_ids) if source_ids else None,
                             limit=k, with_payload=payload, with_vector=False)


def _lexical_request(sparse, k: int, source_ids, payload: bool = True):
    edge = _edge()
    return edge.QueryRequest(query=edge.Query.Nearest(sparse_vector(edge, sparse), using=LEXICAL_VECTOR),
                             filter=source_filter(edge, source_ids) if source_ids else None,
                             limit=k, with_payload=payload, with_vector=False)
