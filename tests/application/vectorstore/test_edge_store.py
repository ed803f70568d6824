"""What only the embedded store (Qdrant Edge in a folder) promises: it persists, one process holds
the folder, a crash leaves nothing half-made, and an acknowledged write survives a SIGKILL.

What it shares with a Qdrant server is in ``test_store_contract.py``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from application.errors import ServiceUnavailable
from application.vectorstore.base import ACTIVE_ALIAS
from application.vectorstore.edge import SHARDS_DIR, EdgeVectorStore
from plugins.lexical import SparseVector
from tests.application.vectorstore.test_store_contract import DIM, NAME, OTHER, chunk_id, payload, point, vector

REPO = Path(__file__).resolve().parents[3]


def python(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """``script`` in another process with this venv's Python, from the repository root."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_data_and_alias_survive_close_and_reopen(tmp_path):
    folder = tmp_path / "qdrant"
    store = EdgeVectorStore.open(folder)
    store.create_collection(NAME, DIM)
    store.create_collection(OTHER, DIM)
    store.upsert(NAME, [point(i, f"s{i % 2}", SparseVector([i % 3], [1.0])) for i in range(30)])
    store.upsert(OTHER, [point(100)])
    store.delete(NAME, [chunk_id(5)])
    store.switch_alias(NAME)
    store.switch_alias(OTHER, alias="chunks_candidate")
    before = store.search(NAME, vector(999), 5, source_ids=["s1"])
    before_lexical = store.search_lexical(NAME, SparseVector([1], [1.0]), 5)
    store.close()

    reopened = EdgeVectorStore.open(folder)
    try:
        assert reopened.list_collections() == sorted([NAME, OTHER])
        assert reopened.alias_target(ACTIVE_ALIAS) == NAME
        assert reopened.alias_target("chunks_candidate") == OTHER
        assert reopened.vector_size(NAME) == DIM and reopened.has_lexical(NAME)
        assert reopened.count(NAME) == 29 and reopened.count(OTHER) == 1
        assert reopened.point_ids(NAME) == {chunk_id(i) for i in range(30) if i != 5}
        assert reopened.search(NAME, vector(999), 5, source_ids=["s1"]) == before
        # the same hits; not the same scores: the IDF of a live shard still counts the deleted point
        # (Qdrant's posting lists are immutable on delete, as on a server), a reloaded one does not
        assert [h.id for h in reopened.search_lexical(NAME, SparseVector([1], [1.0]), 5)] == \
            [h.id for h in before_lexical]
        assert reopened.search(NAME, vector(7), 1)[0].payload == payload(7, "s1")
    finally:
        reopened.close()


def test_a_second_process_cannot_open_the_folder_and_is_told_why(tmp_path):
    folder = tmp_path / "qdrant"
    store = EdgeVectorStore.open(folder)
    script = """
        import json, sys
        from pathlib import Path
        from application.vectorstore.edge import EdgeVectorStore
        try:
            EdgeVectorStore.open(Path(sys.argv[1])).close()
            print(json.dumps({"opened": True}))
        except Exception as exc:
            print(json.dumps({"opened": False, "type": type(exc).__name__, "message": str(exc)}))
    """
    try:
        store.create_collection(NAME, DIM)
        second = python(script, str(folder))
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        answer = json.loads(out)
        assert answer["opened"] is False and answer["type"] == ServiceUnavailable.__name__
        assert "in use by another DocsTune process" in answer["message"]
        assert str(folder) in answer["message"]
        assert store.count(NAME) == 0  # the holder goes on undisturbed
    finally:
        store.close()

    after = python(script, str(folder))  # closing released the folder
    out, err = after.communicate(timeout=60)
    assert json.loads(out) == {"opened": True}, err


def test_a_second_open_in_the_same_process_is_refused_too(tmp_path):
    store = EdgeVectorStore.open(tmp_path / "qdrant")
    try:
        with pytest.raises(ServiceUnavailable, match="in use by another DocsTune process") as caught:
            EdgeVectorStore.open(tmp_path / "qdrant")
        assert str(tmp_path / "qdrant") in str(caught.value)
    finally:
        store.close()


def test_a_leftover_tmp_folder_is_removed_at_open(tmp_path):
    folder = tmp_path / "qdrant"
    store = EdgeVectorStore.open(folder)
    store.create_collection(NAME, DIM)
    store.upsert(NAME, [point(1)])
    store.close()
    shards = folder / SHARDS_DIR
    # what a crash mid-create and mid-drop leave behind
    half_made = shards / ".tmp-chunks__crashed-1a2b3c4d"
    (half_made / "segments").mkdir(parents=True)
    (half_made / "edge_config.json").write_text("{}")
    half_dropped = shards / f".tmp-drop-{OTHER}-5e6f7a8b"
    half_dropped.mkdir()
    (half_dropped / "wal").write_bytes(b"\0" * 64)

    reopened = EdgeVectorStore.open(folder)
    try:
        assert not half_made.exists() and not half_dropped.exists()
        assert sorted(p.name for p in shards.iterdir()) == [NAME]
        assert reopened.list_collections() == [NAME] and reopened.count(NAME) == 1
    finally:
        reopened.close()


def test_an_acknowledged_upsert_survives_sigkill_of_the_writer(tmp_path):
    folder = tmp_path / "qdrant"
    writer = python("""
        import sys
        from pathlib import Path
        from application.vectorstore.edge import EdgeVectorStore
        from tests.application.vectorstore.test_store_contract import DIM, NAME, point

        store = EdgeVectorStore.open(Path(sys.argv[1]))
        store.create_collection(NAME, DIM)
        acknowledged = 0
        while True:  # never flushed, never closed: only the write-ahead log holds the points
            store.upsert(NAME, [point(acknowledged + i) for i in range(10)])
            acknowledged += 10
            print(acknowledged, flush=True)
    """, str(folder))
    last = 0
    try:
        deadline = time.monotonic() + 60
        while last < 300 and time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            last = int(line)
        assert last >= 300, writer.stderr.read() if writer.poll() is not None else "the writer is too slow"
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=30)
        writer.stdout.close()
        writer.stderr.close()
    assert writer.returncode == -signal.SIGKILL

    reopened = EdgeVectorStore.open(folder)  # the kernel freed the dead writer's lock
    try:
        count = reopened.count(NAME)
        assert count >= last
        assert {chunk_id(i) for i in range(last)} <= reopened.point_ids(NAME)
        assert reopened.search(NAME, vector(last - 1), 1)[0].id == chunk_id(last - 1)
    finally:
        reopened.close()
