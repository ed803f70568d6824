"""Turn a file into text sections: one per heading section, PDF page, slide, or group of rows.

Anything a parser cannot read raises ``DocumentError`` with a reason a person understands; the
pipeline reports it and goes on with the other files. What was read only in part (rows past the
limit, scanned pages OCR could not read) is listed in ``ParsedDocument.warnings``.

The parsers live in ``application.ingest.formats``, one module per family of formats; this module is
the public face: ``parse_file``, the extension table and the shared types.
"""
from __future__ import annotations

from pathlib import Path

from application.ingest.formats.base import (
    DocumentError,
    ParsedDocument,
    ParseLimits,
    Parser,
    Section,
    decode_text,
)
from application.ingest.formats.data import parse_json, parse_jsonl
from application.ingest.formats.ebook import parse_epub
from application.ingest.formats.html import parse_html
from application.ingest.formats.images import parse_image
from application.ingest.formats.notebook import parse_ipynb
from application.ingest.formats.office import parse_docx, parse_pptx
from application.ingest.formats.pdf import parse_pdf
from application.ingest.formats.tables import parse_csv, parse_xlsx
from application.ingest.formats.text import parse_markdown, parse_rst, parse_text

__all__ = [
    "PARSERS", "SUPPORTED_EXTENSIONS", "DocumentError", "ParseLimits", "ParsedDocument", "Section",
    "decode_text", "is_supported", "parse_file",
]

PARSERS: dict[str, Parser] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".rst": parse_rst,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".pptx": parse_pptx,
    ".xlsx": parse_xlsx,
    ".csv": parse_csv,
    ".tsv": parse_csv,
    ".epub": parse_epub,
    ".ipynb": parse_ipynb,
    ".json": parse_json,
    ".jsonl": parse_jsonl,
    ".png": parse_image,
    ".jpg": parse_image,
    ".jpeg": parse_image,
    ".tif": parse_image,
    ".tiff": parse_image,
}
SUPPORTED_EXTENSIONS = tuple(sorted(PARSERS))


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in PARSERS


def parse_file(path: Path, limits: ParseLimits | None = None) -> ParsedDocument:
    """Parse one file by its extension, within ``limits`` (rows, unpacked size, OCR pages and time)."""
    path = Path(path)
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise DocumentError(f"has an unsupported type; supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    if path.stat().st_size == 0:
        raise DocumentError("is empty")
    return parser(path, limits or ParseLimits())
