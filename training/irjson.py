"""Read and write IR JSON (``{queries, corpus, relevant_docs}``, optionally ``answers``).

The format of sentence-transformers' ``InformationRetrievalEvaluator`` and of
LlamaIndex's embedding fine-tuning data sets, so public data sets work as they are.
DocsTune adds one optional key, ``answers: {query id: reference answer}`` (answer
evaluation compares answers against them); it is written only when there are some.

Example::

    from training.irjson import load_ir_json, save_ir_json
    ir = load_ir_json("../shared/data/lyft_10k_ir.json")
    save_ir_json(ir, "/tmp/copy.json")
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from training.files import atomic_write_text
from training.records import IRDataset, TrainingDataError

REQUIRED_KEYS = ("queries", "corpus", "relevant_docs")
OPTIONAL_KEYS = ("answers",)


def ir_dataset_from_dict(data: object, source: str = "IR JSON") -> IRDataset:
    """Check the shape of a decoded IR JSON object and build an :class:`IRDataset`.

    ``relevant_docs`` values may be a list of ids, one id, or a ``{id: score}`` map (BEIR qrels).
    """
    if not isinstance(data, dict):
        raise TrainingDataError(f"{source}: expected a JSON object with keys {', '.join(REQUIRED_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise TrainingDataError(f"{source}: missing key(s) {', '.join(missing)}; IR JSON needs {', '.join(REQUIRED_KEYS)}")
    for key in REQUIRED_KEYS:
        if not isinstance(data[key], dict):
            raise TrainingDataError(f"{source}: {key!r} must be an object keyed by id")
    relevant: dict[str, list[str]] = {}
    for qid, value in data["relevant_docs"].items():
        if isinstance(value, str):
            ids = [value]
        elif isinstance(value, dict):
            ids = [cid for cid, score in value.items() if score]
        elif isinstance(value, (list, tuple)):
            ids = list(value)
        else:
            raise TrainingDataError(f"{source}: relevant_docs[{qid!r}] must be a list of chunk ids")
        relevant[str(qid)] = [str(cid) for cid in ids]
    ir = IRDataset(
        queries={str(k): str(v) for k, v in data["queries"].items()},
        corpus={str(k): str(v) for k, v in data["corpus"].items()},
        relevant_docs=relevant,
        answers=_answers(data.get("answers"), source),
    )
    return ir.validate(source)


def _answers(value: object, source: str) -> dict[str, str]:
    """The optional ``answers`` map: ``{query id: non-empty text}`` (absent or null: none)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TrainingDataError(f"{source}: 'answers' must be an object {{query id: reference answer}}")
    answers = {}
    for qid, answer in value.items():
        if not isinstance(answer, str) or not answer.strip():
            raise TrainingDataError(f"{source}: answers[{qid!r}] must be a non-empty text (the reference answer)")
        answers[str(qid)] = answer
    return answers


def load_ir_json(path: str | os.PathLike) -> IRDataset:
    """Load and validate an IR JSON file; :class:`TrainingDataError` names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TrainingDataError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    return ir_dataset_from_dict(data, source=str(path))


def save_ir_json(ir: IRDataset, path: str | os.PathLike) -> Path:
    """Write ``ir`` to ``path`` atomically and durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(ir.to_dict(), ensure_ascii=False, indent=1))
    return path

