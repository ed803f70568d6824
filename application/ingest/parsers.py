"""Turn a file into text sections (one per PDF page, one for other kinds).

Anything a parser cannot read raises ``DocumentError`` with a reason a person
understands; the pipeline reports it and goes on with the other files.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


class DocumentError(Exception):
    """This file cannot be ingested; the message says why."""


@dataclass
class Section:
    text: str
    page: int | None = None


@dataclass
class ParsedDocument:
    title: str
    kind: str
    sections: list[Section] = field(default_factory=list)


def decode_text(data: bytes) -> str:
    """UTF-8 first; otherwise the encoding charset-normalizer detects (cp1252, latin-1, ...)."""
    if b"\x00" in data[:8192]:
        raise DocumentError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    if not matches:
        raise DocumentError("is not text in any encoding that could be detected")
    # short Western texts fit several code pages equally well; Windows-1252 is by far the likeliest
    preferred = next((m for m in matches if m.encoding in ("cp1252", "latin_1", "iso8859_15")), None)
    return str(preferred or matches.best())


def _require_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise DocumentError("has no text")
    return text


def parse_text(path: Path) -> ParsedDocument:
    text = _require_text(decode_text(path.read_bytes()))
    return ParsedDocument(title=path.stem, kind="txt", sections=[Section(text)])


def parse_markdown(path: Path) -> ParsedDocument:
    text = _require_text(decode_text(path.read_bytes()))
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return ParsedDocument(title=heading.group(1) if heading else path.stem, kind="md", sections=[Section(text)])


def parse_html(path: Path) -> ParsedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes()), "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "svg", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if not title and soup.h1:
        title = soup.h1.get_text(" ", strip=True)
    if soup.title:
        soup.title.decompose()
    text = soup.get_text("\n")
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r"\n\s*\n\s*", "\n\n", text)
    return ParsedDocument(title=title or path.stem, kind="html", sections=[Section(_require_text(text))])


def parse_pdf(path: Path) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            # many PDFs are "encrypted" with an empty user password only
            try:
                unlocked = reader.decrypt("")
            except Exception:
                unlocked = 0
            if not unlocked:
                raise DocumentError("is an encrypted PDF; save a decrypted copy and ingest that")
        sections = []
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(text, page=number))
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"is not a readable PDF ({exc.__class__.__name__}: {exc})") from exc
    if not sections:
        raise DocumentError("has no extractable text (a scanned PDF needs OCR first)")
    return ParsedDocument(title=str(metadata_title).strip() or path.stem, kind="pdf", sections=sections)


PARSERS: dict[str, Callable[[Path], ParsedDocument]] = {
    ".txt": parse_text,
    ".text": parse_text,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
}
SUPPORTED_EXTENSIONS = tuple(sorted(PARSERS))


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in PARSERS


def parse_file(path: Path) -> ParsedDocument:
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise DocumentError(f"has an unsupported type; supported: {', '.join(SUPPORTED_EXTENSIONS)}")
    if path.stat().st_size == 0:
        raise DocumentError("is empty")
    return parser(path)
