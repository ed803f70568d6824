"""Jupyter notebooks: the JSON itself (nbformat's schema validation is slow and refuses notebooks
Jupyter still opens). Markdown and code cells, never outputs (tracebacks, data dumps, base64 images);
consecutive cells are grouped under the notebook's Markdown headings and located as "cells 3–7"."""
from __future__ import annotations

import json
import re
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    DocumentError,
    Outline,
    ParsedDocument,
    ParseLimits,
    decode_text,
    number_range,
    one_line,
    require_sections,
)
from application.ingest.formats.text import markdown_headings

# a pasted image inside Markdown (``![](data:image/png;base64,...)``) is not text
_DATA_URI = re.compile(r"\(data:[^)]{64,}\)")


def parse_ipynb(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    try:
        notebook = json.loads(decode_text(path.read_bytes()))
    except (json.JSONDecodeError, RecursionError, DocumentError) as exc:
        raise DocumentError("is not a Jupyter notebook (not JSON)") from exc
    cells = _cells(notebook)
    metadata = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    language = _language(metadata)
    title = one_line(metadata.get("title") or "") if isinstance(metadata.get("title"), str) else ""
    markdown = [(number, source) for number, (kind, source, _) in enumerate(cells, start=1) if kind == "markdown"]
    if not title:
        title = next((text for _, source in markdown for level, text in markdown_headings(source) if level == 1), "")
    outline = Outline(title, locate=lambda refs: number_range("cell", min(refs), max(refs)) if refs else None)
    for number, (kind, source, level) in enumerate(cells, start=1):
        if kind == "markdown":
            for heading_level, value in markdown_headings(_DATA_URI.sub("(image)", source)):
                if heading_level is None:
                    outline.add(value, ref=number)
                else:
                    outline.heading(heading_level, value)
        elif kind == "heading":  # nbformat 3 had heading cells
            outline.heading(level or 1, source)
        elif kind == "code" and source.strip():
            outline.add(f"```{language}\n{source.strip()}\n```", ref=number)
        elif kind == "raw" and source.strip():
            outline.add(source, ref=number)
    return require_sections(ParsedDocument(title=title or path.stem, kind="ipynb", sections=outline.finish()))


def _source(value) -> str:
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return value if isinstance(value, str) else ""


def _cells(notebook) -> list[tuple[str, str, int | None]]:
    """(cell type, source, heading level) for nbformat 4 and 3 notebooks."""
    if not isinstance(notebook, dict):
        raise DocumentError("is not a Jupyter notebook (no cells)")
    raw_cells = notebook.get("cells")
    if raw_cells is None and isinstance(notebook.get("worksheets"), list):  # nbformat 3
        raw_cells = [cell for sheet in notebook["worksheets"] if isinstance(sheet, dict)
                     for cell in sheet.get("cells") or []]
    if not isinstance(raw_cells, list):
        raise DocumentError("is not a Jupyter notebook (no cells)")
    cells = []
    for cell in raw_cells:
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        source = _source(cell.get("source", cell.get("input")))
        level = cell.get("level") if isinstance(cell.get("level"), int) else None
        cells.append((kind, source, level))
    return cells


def _language(metadata: dict) -> str:
    for key in ("language_info", "kernelspec"):
        info = metadata.get(key)
        if isinstance(info, dict):
            name = info.get("name") if key == "language_info" else info.get("language")
            if isinstance(name, str) and re.fullmatch(r"[\w+#-]{1,20}", name):
                return name.lower()
    return ""
