"""training/files.py: the one atomic, durable file write."""
import os
import stat

import pytest

from training.files import atomic_open, atomic_write_bytes, atomic_write_text


def test_a_write_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    atomic_write_text(target, "new ✓")
    atomic_write_bytes(tmp_path / "plot.png", b"\x89PNG")
    assert target.read_text(encoding="utf-8") == "new ✓"
    assert (tmp_path / "plot.png").read_bytes() == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "plot.png"]


def test_a_write_that_fails_halfway_keeps_the_old_file(tmp_path):
    target = tmp_path / "export.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write("half\n")
            raise RuntimeError("the export broke")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["export.jsonl"]


def test_the_file_and_its_folder_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(stat.S_ISDIR(os.fstat(fd).st_mode)), real_fsync(fd)))
    atomic_write_text(tmp_path / "active.json", "{}")
    assert synced == [False, True]  # the file, then the folder that holds the rename


def test_the_new_file_is_private(tmp_path):
    atomic_write_text(tmp_path / "secret.json", "{}")
    assert stat.S_IMODE((tmp_path / "secret.json").stat().st_mode) == 0o600


def test_only_whole_file_writes_are_allowed(tmp_path):
    with pytest.raises(ValueError):
        with atomic_open(tmp_path / "log", "a"):
            pass
