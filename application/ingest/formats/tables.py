"""Spreadsheets (.xlsx) and CSV/TSV files, read row by row and never whole.

Each row becomes a record line ``Column: value; Column2: value`` named by the header row, and rows are
grouped into sections of a few KB located by their row numbers ("sheet Sales, rows 2–41"). At most
``limits.max_rows`` rows are read per sheet or file; a warning says how many were left.
"""
from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    DocumentError,
    ParsedDocument,
    ParseLimits,
    RecordGroups,
    check_zip_container,
    one_line,
    record_line,
    require_sections,
    rows_not_read_warning,
    stream_encoding,
    unreadable_as,
)


def header_names(values) -> list[str] | None:
    """The column names if this (first non-empty) row is a header — every filled cell is text — else None.
    An unnamed column is called by its position ("column 3")."""
    filled = [value for value in values if value is not None and str(value).strip()]
    if not filled or not all(isinstance(value, str) for value in filled):
        return None
    return [one_line(value) if value is not None and str(value).strip() else f"column {index}"
            for index, value in enumerate(values, start=1)]


def _positional(width: int) -> list[str]:
    return [f"column {index}" for index in range(1, width + 1)]


# --- .xlsx ----------------------------------------------------------------------------------------


def parse_xlsx(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    check_zip_container(path, limits, ".xlsx")
    document = ParsedDocument(title=path.stem, kind="xlsx")
    with unreadable_as(".xlsx"):
        import openpyxl

        # read_only streams each sheet's XML; data_only gives a formula's last computed value, not its text
        workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
        try:
            title = one_line(workbook.properties.title or "") if workbook.properties else ""
            for sheet in workbook.worksheets:
                _read_sheet(sheet, limits, document)
        finally:
            workbook.close()
    document.title = title or path.stem
    return require_sections(document)


def _read_sheet(sheet, limits: ParseLimits, document: ParsedDocument) -> None:
    name = one_line(sheet.title)
    groups = RecordGroups(f"sheet {name}, ", headings=(name,))
    header: list[str] | None = None
    read = 0
    last_row = 0
    # in read-only mode the rows come in order, empty ones included, from row 1
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        if not any(value is not None and str(value).strip() for value in values):
            continue
        if header is None:
            header = header_names(values)
            if header is not None:
                continue
            header = _positional(len(values))
        if read >= limits.max_rows:
            # the sheet's declared size says how many rows are left, without reading them
            declared = _declared_rows(sheet)
            not_read = declared - last_row if declared and declared > last_row else None
            document.warnings.append(rows_not_read_warning(f"sheet {name}", not_read, limits.max_rows))
            break
        if len(values) > len(header):
            header = header + _positional(len(values))[len(header):]
        groups.add(number, record_line(header, values))
        read += 1
        last_row = number
    document.sections.extend(groups.finish())


def _declared_rows(sheet) -> int | None:
    """The sheet's row count as its <dimension> declares it; None when a writer left it out."""
    try:
        rows = sheet.max_row
    except Exception:  # noqa: BLE001  (openpyxl may try to compute an absent dimension and fail)
        return None
    return rows if isinstance(rows, int) else None


# --- .csv / .tsv ----------------------------------------------------------------------------------

SNIFF_BYTES = 64 << 10


def parse_csv(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    document = ParsedDocument(title=path.stem, kind="csv")
    with path.open("rb") as raw:
        sample = raw.read(SNIFF_BYTES)
        encoding = stream_encoding(sample)
        raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
        sample_text = sample.decode(encoding, errors="ignore")
        dialect = _dialect(sample_text, tab=path.suffix.lower() == ".tsv")
        reader = csv.reader(text, dialect)
        groups = RecordGroups("", headings=())
        header: list[str] | None = None
        read = 0
        try:
            for values in reader:
                if not any(value.strip() for value in values):
                    continue
                if header is None:
                    header = header_names(values) if not _all_numbers(values) else None
                    if header is not None:
                        continue
                    header = _positional(len(values))
                if read >= limits.max_rows:
                    # counting the rest is cheap next to reading it (the csv module's C loop)
                    not_read = 1 + sum(1 for _ in reader)
                    document.warnings.append(rows_not_read_warning("", not_read, limits.max_rows))
                    break
                if len(values) > len(header):
                    header = header + _positional(len(values))[len(header):]
                # the row number a spreadsheet shows (a quoted field may span lines)
                groups.add(reader.line_num, record_line(header, values))
                read += 1
        except csv.Error as exc:
            raise DocumentError(f"is not a readable CSV file (line {reader.line_num}: {exc})") from exc
    document.sections = groups.finish()
    return require_sections(document)


def _dialect(sample: str, tab: bool):
    if tab:
        return csv.excel_tab
    try:
        lines = "\n".join(itertools.islice(sample.splitlines(), 50))
        return csv.Sniffer().sniff(lines, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _all_numbers(values) -> bool:
    def is_number(value: str) -> bool:
        try:
            float(value.replace(",", ""))
            return True
        except ValueError:
            return False

    filled = [value for value in values if value.strip()]
    return bool(filled) and all(is_number(value) for value in filled)
