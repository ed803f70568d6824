"""Atomic, durable file writes: the one helper every writer of a file that is read back uses.

A reader sees the old file or the new one, never half of it (temporary file in the same folder, then
``os.replace``), and once the call returns a crash keeps the new one (the file and its folder are fsync'd).
The temporary file is created 0600 (``mkstemp``) and keeps that mode when it replaces the old one.

Example::

    from training.files import atomic_open, atomic_write_text
    atomic_write_text("/tmp/metrics.json", "{}")
    with atomic_open("/tmp/export.jsonl") as handle:  # streamed: lines written as they come
        handle.write('{"question": "Is VAT included?"}\n')
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

__all__ = ["atomic_open", "atomic_write_bytes", "atomic_write_text", "fsync_dir"]


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing (``"w"`` text as UTF-8, or ``"wb"``); on a clean exit
    it replaces ``path``, on an exception it is removed and ``path`` is untouched. The folder must exist."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)  # the rename itself survives a crash only once the folder is on disk


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8), atomically and durably."""
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace ``path`` with ``data``, atomically and durably."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
