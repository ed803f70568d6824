"""Chunk texts to write synthetic questions for: an IR JSON, a JSONL, or a folder of text files.

* ``*.json`` — IR JSON (its ``corpus``; its real questions are kept for evaluation);
* ``*.jsonl`` — one chunk a line: ``{"chunk_id" | "id": ..., "text": ...}`` or a bare JSON string;
* a folder — every ``.txt``/``.md`` file is one chunk, its id the relative path.

Example::

    from training.corpus import load_corpus
    chunks, ir = load_corpus("chunks.jsonl")   # ir is None unless the file is IR JSON
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from training.irjson import load_ir_json
from training.records import IRDataset, TrainingDataError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")


def load_corpus(path: str | os.PathLike) -> tuple[dict[str, str], IRDataset | None]:
    path = Path(path)
    if path.is_dir():
        chunks = {
            str(p.relative_to(path)): p.read_text(encoding="utf-8", errors="replace").strip()
            for p in sorted(path.rglob("*"))
            if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
        }
        chunks = {k: v for k, v in chunks.items() if v}
        if not chunks:
            raise TrainingDataError(f"{path}: no non-empty {', '.join(TEXT_SUFFIXES)} files in this folder")
        return chunks, None
    if not path.is_file():
        raise TrainingDataError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".json":
        ir = load_ir_json(path)
        return dict(ir.corpus), ir
    chunks: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
            if isinstance(item, str):
                text, cid = item, None
            elif isinstance(item, dict) and isinstance(item.get("text"), str):
                text, cid = item["text"], item.get("chunk_id") or item.get("id")
            else:
                raise TrainingDataError(f"{path}:{line_no}: expected a string or an object with a 'text' field")
            if text.strip():
                chunks[str(cid) if cid else hashlib.sha256(text.encode()).hexdigest()[:16]] = text.strip()
    if not chunks:
        raise TrainingDataError(f"{path}: no chunk texts in this file")
    return chunks, None
