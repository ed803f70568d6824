"""The contract every format parser shares: what a parsed document is, the limits, the errors,
and the small helpers that more than one format needs (text decoding, heading outlines, tables,
record lines, the zip check).

Parsers live in the sibling modules, one per format family; ``application.ingest.parsers`` maps
file extensions to them. Nothing here imports a heavy library at module level.
"""
from __future__ import annotations

import logging
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

log = logging.getLogger(__name__)


class DocumentError(Exception):
    """This file cannot be ingested; the message says why."""


@dataclass
class Section:
    """A stretch of a document that chunks never cross: a heading's section, a page, a slide, a sheet's rows."""

    text: str
    page: int | None = None
    # the heading path below the document title, outermost first: ("Install", "On Debian")
    headings: tuple[str, ...] = ()
    # where a person finds it, beyond the page: "slide 3", "sheet Sales, rows 2–41", "chapter 2", "cell 4"
    location: str | None = None


@dataclass
class ParsedDocument:
    title: str
    kind: str
    sections: list[Section] = field(default_factory=list)
    # what was read only in part, one line each (e.g. "page 3: scanned, OCR not available")
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParseLimits:
    """Bounds on what one document may cost (the settings INGEST_MAX_ROWS, OCR_*, INGEST_MAX_UNPACKED_BYTES)."""

    max_rows: int = 100_000  # rows read per sheet / CSV / JSONL file; the rest is reported, not read
    max_unpacked_bytes: int = 256 << 20  # an Office/EPUB zip that unpacks to more is refused (zip bomb)
    ocr: bool = True  # pages and images without a text layer are read by tesseract
    ocr_languages: str = "eng"
    ocr_max_pages: int = 50  # pages OCR'd per document
    ocr_timeout_seconds: float = 120.0  # OCR time per document


DEFAULT_LIMITS = ParseLimits()

# A parser takes the file and the limits; it returns the document or raises DocumentError.
Parser = Callable[[Path, ParseLimits], ParsedDocument]

# Sheets, CSV, JSON records and notebooks are cut into sections of about this many characters: a couple
# of 256-token chunks, so the location a chunk keeps ("rows 2–41") stays narrow enough to look up.
RECORD_SECTION_CHARS = 2000


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(data: bytes) -> str:
    """UTF-8 first; otherwise the encoding charset-normalizer detects (cp1252, latin-1, ...)."""
    if data.startswith(UTF16_BOMS):  # Excel's "Unicode text", Windows Notepad's "Unicode"
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise DocumentError("looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    return data.decode(detect_encoding(data), errors="replace")


def detect_encoding(sample: bytes) -> str:
    """The encoding of text that is not UTF-8, from a sample of it (charset-normalizer)."""
    from charset_normalizer import from_bytes

    matches = from_bytes(sample)
    # short Western texts fit several code pages equally well; Windows-1252 is by far the likeliest
    preferred = next((m for m in matches if m.encoding in ("cp1252", "latin_1", "iso8859_15")), None)
    if preferred is not None:
        return preferred.encoding
    best = matches.best()
    if best is None or not best.coherence:
        # no language recognised (a short CSV of names and prices): the likeliest again, if it fits
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    if best is None:
        raise DocumentError("is not text in any encoding that could be detected")
    return best.encoding


def stream_encoding(sample: bytes) -> str:
    """The encoding to stream a text file in, judged from its first bytes (UTF-8 first, as decode_text)."""
    import codecs

    if sample.startswith(UTF16_BOMS):
        return "utf-16"
    if b"\x00" in sample[:8192]:
        raise DocumentError("looks like a binary file, not text")
    try:
        # the sample may end inside a character: an incremental decoder only fails on real errors
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return detect_encoding(sample)


def require_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise DocumentError("has no text")
    return text


def require_sections(document: ParsedDocument) -> ParsedDocument:
    if not document.sections:
        raise DocumentError("has no text")
    return document


def one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def unreadable_as(label: str) -> Iterator[None]:
    """Turn whatever a third-party reader raises on a malformed file into one readable DocumentError.

    python-docx, openpyxl, ebooklib and lxml raise KeyError, ValueError, XMLSyntaxError, ... on broken
    input; a person needs "is not a readable .docx (reason)", never a traceback.
    """
    try:
        yield
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001  (see the docstring: the reader's exception types are open-ended)
        log.debug("reading a %s failed", label, exc_info=True)
        # a KeyError's str() is its key in quotes; its argument is the message
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        reason = one_line(message) or exc.__class__.__name__
        raise DocumentError(f"is not a readable {label} ({reason[:200]})") from exc


# --- headings -> sections -------------------------------------------------------------------------


class Outline:
    """Collects a document's text blocks under its headings and closes a section at every heading.

    ``heading(level, text)`` starts a new section whose heading path is the enclosing headings of lower
    levels plus this one. The first heading whose text is the document's title is not part of any path
    (the title already names the document). Blocks are joined with blank lines; a block may carry a
    ``ref`` (a cell or page number) that ``locate`` turns into the section's location.
    """

    def __init__(self, title: str | None = None, *, location: str | None = None,
                 locate: Callable[[list], str | None] | None = None):
        self._title_key = _heading_key(title) if title else None
        self._stack: list[tuple[int, str]] = []
        self._blocks: list[str] = []
        self._refs: list = []
        self.location = location
        self.locate = locate
        self.sections: list[Section] = []

    def heading(self, level: int, text: str) -> None:
        text = one_line(text)
        if not text:
            return
        self.close()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        if self._title_key is not None and _heading_key(text) == self._title_key:
            self._title_key = None  # the title's own heading: its sections sit directly below the title
            return
        self._stack.append((level, text))

    def feed(self, items) -> "Outline":
        """Take ``(level, text)`` items in order: a level is a heading, ``None`` a block of text."""
        for level, value in items:
            if level is None:
                self.add(value)
            else:
                self.heading(level, value)
        return self

    def add(self, text: str, ref=None) -> None:
        text = text.strip("\n").rstrip()
        if text.strip():
            self._blocks.append(text)
            if ref is not None:
                self._refs.append(ref)

    @property
    def headings(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)

    def close(self) -> None:
        if self._blocks:
            location = self.locate(self._refs) if self.locate else self.location
            self.sections.append(Section("\n\n".join(self._blocks), headings=self.headings,
                                         location=location))
        self._blocks, self._refs = [], []

    def finish(self) -> list[Section]:
        self.close()
        return self.sections


def _heading_key(text: str) -> str:
    return one_line(text).casefold()


def number_range(label: str, first: int, last: int) -> str:
    """``cell 4`` or ``cells 3–7`` (an en dash, as a person writes a range)."""
    return f"{label} {first}" if first == last else f"{label}s {first}–{last}"


# --- tables and records ---------------------------------------------------------------------------


def markdown_table(rows: list[list[str]]) -> str:
    """Rows of cell texts as a Markdown table; the first row is the header."""
    rows = [[one_line(cell).replace("|", "\\|") for cell in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def record_line(header: list[str], values) -> str:
    """One row as ``Column: value; Column2: value``; empty cells are left out."""
    parts = []
    for name, value in zip(header, values):
        text = format_value(value)
        if text:
            parts.append(f"{name}: {text}" if name else text)
    return "; ".join(parts)


def format_value(value) -> str:
    import datetime

    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return one_line(value)


class RecordGroups:
    """Cuts a stream of numbered records into sections of about RECORD_SECTION_CHARS characters each,
    located by their first and last number ("sheet Sales, rows 2–41")."""

    def __init__(self, location_prefix: str, unit: str = "row", headings: tuple[str, ...] = (),
                 joiner: str = "\n"):
        self.prefix = location_prefix
        self.unit = unit
        self.headings = headings
        self.joiner = joiner
        self.sections: list[Section] = []
        self._lines: list[str] = []
        self._size = 0
        self._first = self._last = 0

    def add(self, number: int, text: str) -> None:
        if not text:
            return
        if not self._lines:
            self._first = number
        self._lines.append(text)
        self._last = number
        self._size += len(text) + 1
        if self._size >= RECORD_SECTION_CHARS:
            self.close()

    def close(self) -> None:
        if self._lines:
            where = number_range(self.unit, self._first, self._last)
            self.sections.append(Section(self.joiner.join(self._lines), headings=self.headings,
                                         location=f"{self.prefix}{where}"))
        self._lines, self._size = [], 0

    def finish(self) -> list[Section]:
        self.close()
        return self.sections


def rows_not_read_warning(where: str, not_read: int | None, limit: int) -> str:
    """``sheet Sales: 2 more rows not read (row limit 3; ...)``; ``where`` may be empty (a CSV file)."""
    count = f"{not_read:,} more rows" if not_read else "the remaining rows"
    line = f"{count} not read (row limit {limit:,}; raise INGEST_MAX_ROWS to read them)"
    return f"{where}: {line}" if where else line


# --- zip containers (docx, pptx, xlsx, epub) ------------------------------------------------------

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a compound file: an encrypted Office file, or .doc/.xls/.ppt
# Office XML compresses 5-30x; a member list that promises 100x and more, past a few MB, is a zip bomb.
MAX_COMPRESSION_RATIO = 100
RATIO_CHECK_FROM_BYTES = 16 << 20


def check_zip_container(path: Path, limits: ParseLimits, label: str) -> None:
    """Refuse an encrypted Office file, a file that is not a zip, or one that unpacks to too much —
    before any library unpacks it. The sizes checked are those each member declares; Python's
    zipfile never inflates a member past its declared size (it fails with a CRC error instead)."""
    with path.open("rb") as fh:
        magic = fh.read(8)
    if magic == OLE_MAGIC:
        if label == ".epub":
            raise DocumentError("is not a readable .epub (it is an OLE compound file, not a zip)")
        raise DocumentError(f"is encrypted or not an Office Open XML file; save an unencrypted {label} "
                            "and ingest that")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"is not a readable {label} ({one_line(exc) or 'not a zip archive'})") from exc
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    if unpacked > limits.max_unpacked_bytes:
        raise DocumentError(f"unpacks to {_mb(unpacked)} (limit {_mb(limits.max_unpacked_bytes)}): "
                            "refused as a possible zip bomb")
    if unpacked > RATIO_CHECK_FROM_BYTES and unpacked > MAX_COMPRESSION_RATIO * max(packed, 1):
        raise DocumentError(f"unpacks to {_mb(unpacked)} from {_mb(packed)} (more than "
                            f"{MAX_COMPRESSION_RATIO} times): refused as a possible zip bomb")


def _mb(size: int) -> str:
    if size < (1 << 20):
        return f"{max(size, 1024) / 1024:,.0f} KB"
    return f"{size / (1 << 20):,.1f} MB" if size < (10 << 20) else f"{size / (1 << 20):,.0f} MB"
