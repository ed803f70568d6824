"""The one-off upgrade of an embedded index from before Qdrant Edge (qdrant-client's local mode).

DocsTune before Qdrant Edge kept its vectors in qdrant-client's local mode, in the folder that is
QDRANT_PATH today (``meta.json``, ``collection/``, ``.lock``). ``create_vector_store`` runs
``upgrade_local_mode`` right after it opens the Edge store there, holding the folder's lock:

1. each collection of the old folder is copied into the Edge shard of the same name: vectors (dense,
   and lexical where it has them) and payloads as they are, nothing re-embedded, so a search ranks as
   before and the database's record of each collection still describes it;
2. the active alias follows (unless Edge has one already);
3. the old files move into ``local-mode-backup/`` beside the shards: an older DocsTune pointed at it
   serves it again; remove it once the upgraded index is checked.

Then the folder is a plain Edge install and no store carries an upgrade path. An interrupted upgrade
is done again at the next open: the copy writes by point id (a second copy replaces the first) and
``meta.json``, the marker, moves aside only after every shard is flushed and the alias written.

Copying once was chosen over serving the old folder until a re-index from SQL rebuilt it: searches
answer at once with the same vectors, and the only code that knows local mode is this step.
"""
from __future__ import annotations

import logging
from pathlib import Path

from application.vectorstore.base import ACTIVE_ALIAS, LEXICAL_VECTOR, VectorPoint, VectorStore
from application.vectorstore.qdrant_common import SCROLL_PAGE

log = logging.getLogger(__name__)

MARKER = "meta.json"  # local mode's list of collections: the folder holds an index to upgrade
# what local mode keeps in the folder, the marker first: once it is moved the copy is never redone
LOCAL_MODE_FILES = (MARKER, "collection", ".lock")
BACKUP_DIR = "local-mode-backup"


def upgrade_local_mode(folder: Path, store: VectorStore) -> dict[str, int]:
    """Copy the local-mode index in ``folder`` into ``store`` (Edge, open on that folder) and move
    the old files aside; ``{collection: points copied}`` (empty: nothing to upgrade).

    Raises ``ServiceUnavailable`` (``folder_in_use_error``) when an older DocsTune holds the old folder."""
    copied: dict[str, int] = {}
    if (folder / MARKER).is_file():
        from application.vectorstore.qdrant import QdrantVectorStore  # qdrant-client: only for an old folder

        old = QdrantVectorStore.open_local_folder(folder)
        try:
            names = old.list_collections()
            log.warning("Upgrading the vector index in %s to Qdrant Edge: copying %d point(s) of %d collection(s) "
                        "from Qdrant local mode (DocsTune before Edge), once", folder,
                        sum(old.count(name) for name in names), len(names))
            copied = {name: _copy_collection(old, name, store) for name in names}
            active = old.alias_target(ACTIVE_ALIAS)
            if active is not None and store.alias_target(ACTIVE_ALIAS) is None:
                store.switch_alias(active)
        finally:
            old.close()
    backup = _move_aside(folder)
    if copied or backup is not None:
        log.warning("Upgraded the vector index in %s to Qdrant Edge (%d point(s) copied); the old files are in %s: "
                    "remove them once searches answer as before (if not, `docstune reindex` rebuilds the index from "
                    "the database)", folder, sum(copied.values()), backup or folder / BACKUP_DIR)
    return copied


def _copy_collection(old, name: str, store: VectorStore) -> int:
    if not store.collection_exists(name):
        store.create_collection(name, old.vector_size(name))
    copied, offset = 0, None
    while True:
        records, offset = old.client.scroll(name, limit=SCROLL_PAGE, offset=offset,
                                            with_payload=True, with_vectors=True)
        store.upsert(name, [_point(record) for record in records])
        copied += len(records)
        if offset is None:
            break
    store.optimize(name)  # a bulk load, as after a re-index (and flushed: the marker may go)
    return copied


def _point(record) -> VectorPoint:
    vector = record.vector
    if isinstance(vector, dict):  # the unnamed dense vector beside the lexical one
        return VectorPoint(str(record.id), list(vector[""]), record.payload or {}, vector.get(LEXICAL_VECTOR))
    return VectorPoint(str(record.id), list(vector), record.payload or {})


def _move_aside(folder: Path) -> Path | None:
    """Move what local mode left at the root into the backup folder (also what an interrupted move left)."""
    left = [folder / entry for entry in LOCAL_MODE_FILES if (folder / entry).exists()]
    if not left:
        return None
    backup = folder / BACKUP_DIR
    backup.mkdir(exist_ok=True)
    for path in left:
        path.rename(backup / path.name)
    return backup
