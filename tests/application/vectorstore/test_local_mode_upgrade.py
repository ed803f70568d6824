"""The one-off upgrade of a qdrant-client local-mode folder (DocsTune before Qdrant Edge) into Edge:
every collection, point, vector and payload is copied, the alias follows, the old files are kept aside,
and an upgrade that a crash interrupted is finished at the next open without losing anything.
(The whole path through ``DocsTune`` and ``docstune serve``: tests/application/swap/test_upgrade_from_local_mode.py.)"""
from __future__ import annotations

import pytest
from qdrant_client import QdrantClient, models

from application.errors import ServiceUnavailable
from application.vectorstore import create_vector_store
from application.vectorstore.base import ACTIVE_ALIAS
from application.vectorstore.edge import EdgeVectorStore
from application.vectorstore.local_mode_upgrade import BACKUP_DIR, upgrade_local_mode
from application.vectorstore.qdrant import QdrantVectorStore
from plugins.lexical import SparseVector
from tests.application.vectorstore.test_store_contract import DIM, NAME, OTHER, point, vector

SPARSE = SparseVector([3, 7], [1.0, 2.0])


def make_local_mode_folder(folder, *, points: int = 6) -> None:
    """What DocsTune wrote before Edge: the serving collection (some points with lexical vectors), an
    older one from before the lexical leg (a rollback target), and the alias."""
    old = QdrantVectorStore.open_local_folder(folder)
    try:
        old.create_collection(NAME, DIM)
        old.upsert(NAME, [point(i, f"s{i % 2}", SPARSE if i == 0 else None) for i in range(points)])
        old.client.create_collection(OTHER, vectors_config=models.VectorParams(size=DIM,
                                                                               distance=models.Distance.COSINE))
        old.upsert(OTHER, [point(i + 100) for i in range(3)])
        old.switch_alias(NAME)
    finally:
        old.close()


def answers(store, name: str) -> list[tuple[str, float, dict]]:
    return [(p.id, round(p.score, 4), p.payload) for p in store.search(name, vector(1), k=10)]


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "qdrant"
    make_local_mode_folder(folder)
    return folder


def test_every_collection_and_the_alias_are_copied_into_edge_and_the_old_files_kept_aside(folder):
    old = QdrantVectorStore.open_local_folder(folder)
    before = {name: answers(old, name) for name in (NAME, OTHER)}
    old.close()

    store = EdgeVectorStore.open(folder)
    try:
        assert upgrade_local_mode(folder, store) == {NAME: 6, OTHER: 3}
        assert store.alias_target(ACTIVE_ALIAS) == NAME
        assert store.list_collections() == sorted([NAME, OTHER])
        # the same vectors and payloads: the same answers, scores included
        assert {name: answers(store, name) for name in (NAME, OTHER)} == before
        assert [p.id for p in store.search(NAME, vector(1), k=10, source_ids=["s1"])] \
            == [p for p, _, payload in before[NAME] if payload["source_id"] == "s1"]
        # the lexical vector came along (the other collection, made before the lexical leg, can get it in place)
        assert [p.id for p in store.search_lexical(NAME, SPARSE, k=10)] == [point(0).id]
        assert store.has_lexical(NAME) and store.has_lexical(OTHER)
        # nothing of local mode at the root any more; the same call again has nothing to do
        assert not (folder / "meta.json").exists() and not (folder / "collection").exists()
        assert upgrade_local_mode(folder, store) == {}
        assert store.count(NAME) == 6
    finally:
        store.close()
    # the old files, aside, are still the local-mode index an older DocsTune serves
    backup = QdrantVectorStore.open_local_folder(folder / BACKUP_DIR)
    try:
        assert backup.alias_target(ACTIVE_ALIAS) == NAME and answers(backup, NAME) == before[NAME]
    finally:
        backup.close()


def test_a_copy_that_a_crash_interrupted_is_done_again_at_the_next_open(folder):
    store = EdgeVectorStore.open(folder)
    try:
        # what a crash halfway through the copy leaves: part of the points in Edge, the old folder whole
        store.create_collection(NAME, DIM)
        store.upsert(NAME, [point(i, f"s{i % 2}") for i in range(2)])

        assert upgrade_local_mode(folder, store)[NAME] == 6
        assert store.count(NAME) == 6 and store.alias_target(ACTIVE_ALIAS) == NAME
        assert [p.id for p in store.search_lexical(NAME, SPARSE, k=10)] == [point(0).id]
    finally:
        store.close()


def test_a_move_aside_that_a_crash_interrupted_is_finished_without_a_second_copy(folder):
    store = EdgeVectorStore.open(folder)
    try:
        upgrade_local_mode(folder, store)
        store.drop_collection(OTHER)  # gone from Edge: a second copy would bring it back
        # what a crash after the marker moved leaves: the rest of the old files still at the root
        (folder / BACKUP_DIR / "collection").rename(folder / "collection")

        assert upgrade_local_mode(folder, store) == {}
        assert not (folder / "collection").exists() and (folder / BACKUP_DIR / "collection").is_dir()
        assert store.list_collections() == [NAME]
    finally:
        store.close()


def test_an_old_folder_an_older_docstune_holds_is_refused_with_the_clear_error_and_frees_the_edge_lock(
        folder, make_settings):
    settings = make_settings(QDRANT_PATH=str(folder))
    holder = QdrantClient(path=str(folder))  # an older DocsTune serving the folder
    try:
        with pytest.raises(ServiceUnavailable, match="in use by another DocsTune process"):
            create_vector_store(settings)
        EdgeVectorStore.open(folder).close()  # the failed start did not keep the Edge folder locked
        assert (folder / "meta.json").is_file()  # and touched nothing of the old index
    finally:
        holder.close()
    store = create_vector_store(settings)
    try:
        assert store.alias_target(ACTIVE_ALIAS) == NAME and store.count(NAME) == 6
    finally:
        store.close()
