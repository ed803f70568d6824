"""Makers of real sample documents, written with the libraries that write each format, for tests and
benchmarks that need files to ingest.

Every maker takes the ``path`` to write (its suffix is kept as given) and returns it, so
``parse_file(make_docx(tmp_path / "handbook.docx"))`` reads naturally. Blocks of a body are:
a ``str`` (a paragraph), ``Bullets([...])`` (a bulleted list) or ``Table([[header...], [row...]])``.

    make_docx(path, title="Handbook", sections=[("Refunds", ["Refunds take 14 days.", Table([["Item", "Days"], ["Shoes", "30"]])])])
    make_pptx(path, slides=[("Q3 results", ["Revenue up 10%"], "Mention the new office")])
    make_xlsx(path, {"Sales": [["Region", "Amount"], ["North", 100]]})
    make_csv(path, [["name", "city"], ["Ada", "London"]])
    make_epub(path, title="Guide", chapters=[("Setup", "<p>Install it.</p>")])
    make_ipynb(path, [("markdown", "# Analysis"), ("code", "print(1)", "1")])
    make_text_image(path, ["Invoice 4711", "Total due: 120 EUR"])
    make_scanned_pdf(path, ["Scanned page one"])      # or pages=[[...], [...]]
    make_mixed_pdf(path, ["A text page", ["A scanned page"]])
    make_zip_bomb(path, unpacked_bytes=20 << 20)
    make_ole_file(path)                                # what an encrypted .docx looks like
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


@dataclass
class Bullets:
    """A bulleted list in a document body."""

    items: Sequence[str]


@dataclass
class Table:
    """A table in a document body; the first row is the header."""

    rows: Sequence[Sequence[str]]


def make_docx(path: Path, title: str | None = "Handbook", sections: Sequence = (), *,
              core_title: bool = True) -> Path:
    """A Word document: ``title`` as a Title-style paragraph (and, with ``core_title``, the document
    properties' title), then per ``(heading, blocks)`` of ``sections`` a heading and its blocks.

    ``heading`` is a ``str`` (Heading 1) or ``(level, text)``; ``blocks`` a list of ``str`` paragraphs,
    ``Bullets`` and ``Table``. A ``heading`` of ``None`` puts the blocks before any heading.
    """
    import docx

    document = docx.Document()
    if title:
        document.add_paragraph(title, style="Title")
        if core_title:
            document.core_properties.title = title
    for heading, blocks in sections:
        if heading is not None:
            level, text = heading if isinstance(heading, tuple) else (1, heading)
            document.add_heading(text, level=level)
        for block in blocks:
            if isinstance(block, Bullets):
                for item in block.items:
                    document.add_paragraph(item, style="List Bullet")
            elif isinstance(block, Table):
                width = max(len(row) for row in block.rows)
                table = document.add_table(rows=len(block.rows), cols=width)
                for r, row in enumerate(block.rows):
                    for c, value in enumerate(row):
                        table.cell(r, c).text = str(value)
            else:
                document.add_paragraph(str(block))
    document.save(str(path))
    return Path(path)


def make_pptx(path: Path, slides: Sequence[tuple], title: str | None = None) -> Path:
    """A PowerPoint deck: one "Title and Content" slide per ``(title, lines, notes)`` of ``slides``;
    ``lines`` are the body's paragraphs (a ``Table`` among them becomes a table shape), ``notes`` the
    speaker notes or None. ``title`` sets the document properties' title."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    layout = deck.slide_layouts[1]
    for slide_title, lines, notes in slides:
        slide = deck.slides.add_slide(layout)
        if slide_title:
            slide.shapes.title.text = slide_title
        body = slide.placeholders[1].text_frame
        texts = [line for line in lines if isinstance(line, str)]
        if texts:
            body.text = texts[0]
            for line in texts[1:]:
                body.add_paragraph().text = line
        for table in (line for line in lines if isinstance(line, Table)):
            shape = slide.shapes.add_table(len(table.rows), max(len(r) for r in table.rows),
                                           Inches(1), Inches(4), Inches(6), Inches(1.5))
            for r, row in enumerate(table.rows):
                for c, value in enumerate(row):
                    shape.table.cell(r, c).text = str(value)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    if title:
        deck.core_properties.title = title
    deck.save(str(path))
    return Path(path)


def make_xlsx(path: Path, sheets: dict[str, Iterable[Sequence]], *, write_only: bool = False) -> Path:
    """A workbook with one sheet per ``name: rows`` (rows of values; the first is usually the header).

    ``write_only=True`` streams the rows (quick for large sheets) but, like some other writers, leaves
    out the sheet's declared size, so a reader cannot tell how many rows a sheet has without reading it.
    """
    import openpyxl

    workbook = openpyxl.Workbook(write_only=write_only)
    if not write_only:
        workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(str(path))
    return Path(path)


def make_csv(path: Path, rows: Iterable[Sequence], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    """A CSV file of ``rows`` (the first is usually the header), in ``encoding``."""
    import csv

    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter).writerows(rows)
    return Path(path)


def make_epub(path: Path, title: str = "Guide", chapters: Sequence[tuple[str, str]] = ()) -> Path:
    """An EPUB 3 book: one XHTML chapter per ``(chapter title, body HTML)``, the body after an
    ``<h1>`` of the chapter title; the chapters are the spine and the table of contents."""
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sample-" + Path(path).stem)
    book.set_title(title)
    book.set_language("en")
    items = []
    for number, (chapter_title, body) in enumerate(chapters, start=1):
        item = epub.EpubHtml(title=chapter_title, file_name=f"chapter{number}.xhtml", lang="en")
        item.content = f"<html><body><h1>{chapter_title}</h1>{body}</body></html>"
        book.add_item(item)
        items.append(item)
    book.toc = items
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *items]
    epub.write_epub(str(path), book)
    return Path(path)


def make_ipynb(path: Path, cells: Sequence[tuple], *, language: str = "python") -> Path:
    """A Jupyter notebook (nbformat 4) of ``cells``: ``("markdown", source)``, ``("raw", source)`` or
    ``("code", source[, output text])``; an output is stored as a stream output of that code cell."""
    notebook_cells = []
    for cell in cells:
        kind, source = cell[0], cell[1]
        entry = {"cell_type": kind, "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            outputs = [{"output_type": "stream", "name": "stdout", "text": [cell[2]]}] if len(cell) > 2 else []
            entry.update(execution_count=None, outputs=outputs)
        notebook_cells.append(entry)
    notebook = {
        "cells": notebook_cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": language},
                     "language_info": {"name": language}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    Path(path).write_text(json.dumps(notebook, indent=1))
    return Path(path)


def _font(size: int):
    from PIL import ImageFont

    for candidate in FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)  # Pillow >= 10.1 scales its built-in font


def render_text_image(lines: Sequence[str], *, font_size: int = 40, size: tuple[int, int] | None = None):
    """A white grayscale PIL image with ``lines`` in black, ``font_size`` pixels high, one line per row."""
    from PIL import Image, ImageDraw

    font = _font(font_size)
    step = int(font_size * 1.6)
    width, height = size or (max(200, max((int(font.getlength(l)) for l in lines), default=0) + 2 * font_size),
                             step * len(lines) + 2 * font_size)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((font_size, font_size + index * step), line, font=font, fill=0)
    return image


def make_text_image(path: Path, lines: Sequence[str], *, font_size: int = 40) -> Path:
    """An image of ``lines`` of clear black text (DejaVu Sans, ``font_size`` px) on white, in the format
    of ``path``'s suffix (.png, .jpg, .tiff)."""
    render_text_image(lines, font_size=font_size).save(path)
    return Path(path)


def make_scanned_pdf(path: Path, lines: Sequence[str] | None = None, *,
                     pages: Sequence[Sequence[str]] | None = None, font_size: int = 40) -> Path:
    """A PDF without a text layer, like a scanner makes: each page a letter-size image (150 dpi) of
    rendered text. Give ``lines`` for one page, or ``pages`` (a list of line lists) for several."""
    page_lines = list(pages) if pages is not None else [list(lines or [])]
    images = [render_text_image(lines_of_page, font_size=font_size, size=(1275, 1650))
              for lines_of_page in page_lines]
    images[0].save(path, "PDF", resolution=150.0, save_all=True, append_images=images[1:])
    return Path(path)


def make_mixed_pdf(path: Path, pages: Sequence) -> Path:
    """A PDF of text pages and scanned pages, in order: a ``str`` is a page with a text layer (one line
    of Helvetica), a list of lines a scanned page (an image of them, as ``make_scanned_pdf``)."""
    import io

    from pypdf import PdfReader, PdfWriter

    from tests.conftest import make_pdf

    writer = PdfWriter()
    for page in pages:
        if isinstance(page, str):
            writer.append(PdfReader(io.BytesIO(make_pdf([page]))))
        else:
            scan = io.BytesIO()
            render_text_image(page, size=(1275, 1650)).save(scan, "PDF", resolution=150.0)
            writer.append(PdfReader(io.BytesIO(scan.getvalue())))
    with open(path, "wb") as fh:
        writer.write(fh)
    return Path(path)


def make_zip_bomb(path: Path, unpacked_bytes: int = 20 << 20, member: str = "word/document.xml") -> Path:
    """A zip (name it .docx, .xlsx, ...) with one member of ``unpacked_bytes`` zero bytes, which deflate
    compresses about a thousand times."""
    chunk = b"\0" * (1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open(member, "w", force_zip64=unpacked_bytes > (2 << 30)) as fh:
            left = unpacked_bytes
            while left > 0:
                fh.write(chunk[:min(left, len(chunk))])
                left -= len(chunk)
    return Path(path)


def make_ole_file(path: Path) -> Path:
    """A file that starts like an OLE compound file: what an encrypted .docx/.xlsx (or an old .doc) is."""
    Path(path).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b"EncryptedPackage" * 64)
    return Path(path)
