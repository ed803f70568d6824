"""JSON and JSON Lines: the text in the values, each string labelled with its key path
(``faq[2].answer: ...``); numbers, booleans and identifiers are left out, since they are not prose.

A top-level list (and a JSON Lines file) is a stream of records, grouped into sections located by
item or line numbers; a top-level object gets a section per key. JSON Lines is streamed and bounded
by ``limits.max_rows``; a JSON file is parsed whole, so it is bounded by ``limits.max_unpacked_bytes``.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    RECORD_SECTION_CHARS,
    DocumentError,
    ParsedDocument,
    ParseLimits,
    RecordGroups,
    Section,
    decode_text,
    one_line,
    require_sections,
    rows_not_read_warning,
    stream_encoding,
)

# identifiers by their key: "id", "uuid", "user_id", "user-id", "userId" (but not "paid" or "valid")
_ID_KEY = re.compile(r"(?i:^(_?id|uuid|guid|hash|sha\d*|checksum|etag)$|[_-](id|ids|uuid)$)|[a-z]Ids?$")
_ID_VALUE = re.compile(
    r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # a UUID
    r"|[0-9a-f]{16,}"  # a hash or hex id
    r"|[+-]?\d+([.,]\d+)?"  # a number written as a string
    r"|[A-Za-z0-9+/=_-]{80,})$",  # a token or base64 blob, no spaces
    re.IGNORECASE,
)
_TITLE_KEYS = ("title", "name")
MAX_WARNED_LINES = 10


def text_fields(value, label: str = "") -> list[str]:
    """``label: text`` lines for every string under ``value``, in order, that is not an identifier."""
    lines: list[str] = []
    pending: list[tuple[object, str]] = [(value, label)]
    while pending:  # iterative: JSON may nest deeper than Python's recursion limit
        value, label = pending.pop()
        if isinstance(value, str):
            text = value.strip()
            key = label.rsplit(".", 1)[-1].split("[", 1)[0]
            if text and not _ID_VALUE.match(text) and not (key and _ID_KEY.search(key)):
                lines.append(f"{label}: {text}" if label else text)
        elif isinstance(value, dict):
            children = [(v, f"{label}.{k}" if label else str(k)) for k, v in value.items()]
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend(reversed([(v, f"{label}[{i}]") for i, v in enumerate(value)]))
    return lines


def parse_json(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    size = path.stat().st_size
    if size > limits.max_unpacked_bytes:
        raise DocumentError(f"is {size >> 20} MB of JSON (limit {limits.max_unpacked_bytes >> 20} MB, "
                            "INGEST_MAX_UNPACKED_BYTES): save it as JSON Lines, which is read as a stream")
    try:
        value = json.loads(decode_text(path.read_bytes()))
    except json.JSONDecodeError as exc:
        raise DocumentError(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    except RecursionError as exc:
        raise DocumentError("is JSON nested too deeply to read") from exc
    document = ParsedDocument(title=path.stem, kind="json")
    if isinstance(value, dict):
        title = next((value[k] for k in _TITLE_KEYS if isinstance(value.get(k), str) and value[k].strip()), "")
        document.title = one_line(title)[:200] or path.stem
        document.sections = _object_sections(value)
    elif isinstance(value, list):
        groups = RecordGroups("", unit="item", joiner="\n\n")
        for number, item in enumerate(value, start=1):
            groups.add(number, "\n".join(text_fields(item)))
        document.sections = groups.finish()
    else:
        document.sections = [Section(line) for line in text_fields(value)]
    return require_sections(document)


def _object_sections(value: dict) -> list[Section]:
    """A top-level object's keys, packed into sections of about RECORD_SECTION_CHARS (a config or a
    message catalogue has thousands of one-line keys); a key whose text is longer gets sections of its
    own, headed by the key, its list items grouped like records."""
    sections: list[Section] = []
    packed: list[tuple[str, str]] = []  # (key, its lines)

    def flush() -> None:
        if packed:
            headings = (packed[0][0],) if len(packed) == 1 else ()
            sections.append(Section("\n".join(text for _, text in packed), headings=headings))
            packed.clear()

    for key, child in value.items():
        key = str(key)
        text = "\n".join(text_fields(child, key))
        if not text:
            continue
        if len(text) > RECORD_SECTION_CHARS:
            flush()
            sections.extend(_long_key_sections(key, child, text))
            continue
        if packed and sum(len(t) for _, t in packed) + len(text) > RECORD_SECTION_CHARS:
            flush()
        packed.append((key, text))
    flush()
    return sections


def _long_key_sections(key: str, value, text: str) -> list[Section]:
    if isinstance(value, list):
        groups = RecordGroups(f"{key}, ", unit="item", headings=(key,), joiner="\n\n")
        for number, item in enumerate(value, start=1):
            groups.add(number, "\n".join(text_fields(item)))
        return groups.finish()
    return [Section(text, headings=(key,))]  # the chunker cuts a long section itself


def parse_jsonl(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    document = ParsedDocument(title=path.stem, kind="jsonl")
    groups = RecordGroups("", unit="line", joiner="\n\n")
    bad_lines: list[int] = []
    limit_warning = None
    read = 0
    with path.open("rb") as raw:
        encoding = stream_encoding(raw.read(64 << 10))
        raw.seek(0)
        lines = io.TextIOWrapper(raw, encoding=encoding, errors="replace")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if read >= limits.max_rows:
                not_read = 1 + sum(1 for rest in lines if rest.strip())
                limit_warning = rows_not_read_warning("", not_read, limits.max_rows)
                break
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                bad_lines.append(number)
                continue
            read += 1
            groups.add(number, "\n".join(text_fields(record)))
    if bad_lines and not read:
        raise DocumentError(f"is not JSON Lines (line {bad_lines[0]} is not JSON)")
    if bad_lines:
        shown = ", ".join(str(n) for n in bad_lines[:MAX_WARNED_LINES])
        more = f" and {len(bad_lines) - MAX_WARNED_LINES} more" if len(bad_lines) > MAX_WARNED_LINES else ""
        document.warnings.append(f"lines {shown}{more}: not JSON, skipped" if len(bad_lines) > 1
                                 else f"line {shown}: not JSON, skipped")
    if limit_warning:
        document.warnings.append(limit_warning)
    document.sections = groups.finish()
    return require_sections(document)
