"""Word (.docx) and PowerPoint (.pptx): python-docx and python-pptx, the maintained pure-Python
readers of Office Open XML. A .docx is cut at its headings (by style, or by outline level); a .pptx
becomes one section per slide, with the slide's title as its heading and the speaker notes after it."""
from __future__ import annotations

import re
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    Outline,
    ParsedDocument,
    ParseLimits,
    Section,
    check_zip_container,
    markdown_table,
    one_line,
    require_sections,
    unreadable_as,
)

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
# Word writes this as a document's title when it was converted from an old .doc
_GENERATED_TITLE = re.compile(r"^(microsoft word - |untitled$|document\d*$)", re.IGNORECASE)


# --- .docx ----------------------------------------------------------------------------------------


def parse_docx(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    check_zip_container(path, limits, ".docx")
    with unreadable_as(".docx"):
        import docx
        from docx.table import Table

        document = docx.Document(str(path))
        title = one_line(document.core_properties.title or "")
        if _GENERATED_TITLE.match(title):
            title = ""
        blocks = list(document.iter_inner_content())
        if not title:
            title = next((one_line(block.text) for block in blocks if not isinstance(block, Table)
                          and _style_name(block) == "title" and block.text.strip()), "")
        if not title:
            title = next((one_line(block.text) for block in blocks if not isinstance(block, Table)
                          and _heading_level(block) == 1 and block.text.strip()), "")
        outline = Outline(title)
        list_lines: list[str] = []
        for block in blocks:
            if isinstance(block, Table):
                _flush_list(outline, list_lines)
                outline.add(markdown_table(_docx_table_rows(block)))
                continue
            text = block.text.strip()
            if not text:
                continue
            style = _style_name(block)
            level = _heading_level(block)
            if level is not None or style == "title":
                _flush_list(outline, list_lines)
                outline.heading(level or 1, text)
            elif (depth := _list_depth(block)) is not None:
                list_lines.append("  " * depth + "- " + one_line(text))
            else:
                _flush_list(outline, list_lines)
                outline.add(text)
        _flush_list(outline, list_lines)
    return require_sections(ParsedDocument(title=title or path.stem, kind="docx", sections=outline.finish()))


def _flush_list(outline: Outline, lines: list[str]) -> None:
    if lines:
        outline.add("\n".join(lines))
        lines.clear()


def _style_chain(paragraph):
    style = paragraph.style
    for _ in range(10):  # a style's base styles; bounded, a corrupt file may loop
        if style is None:
            return
        yield style
        style = style.base_style


def _style_name(paragraph) -> str:
    style = paragraph.style
    return (style.name or "").casefold() if style is not None else ""


def _heading_level(paragraph) -> int | None:
    """1-9 for a heading: a "Heading N" style (or one based on it), or an outline level set on the
    paragraph or its style (how custom heading styles and converted documents mark them)."""
    from docx.oxml.ns import qn

    for element in [paragraph._p, *(style.element for style in _style_chain(paragraph))]:
        ppr = element.find(qn("w:pPr"))
        outline_level = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
        if outline_level is not None:
            value = outline_level.get(qn("w:val"))
            return int(value) + 1 if value and value.isdigit() and int(value) < 9 else None
    for style in _style_chain(paragraph):
        found = _HEADING_STYLE.match(style.name or "")
        if found:
            return int(found.group(1))
    return None


def _list_depth(paragraph) -> int | None:
    """The nesting depth (0 = top) of a list item — numbered on the paragraph or by a List style — else None."""
    from docx.oxml.ns import qn

    for element in [paragraph._p, *(style.element for style in _style_chain(paragraph))]:
        ppr = element.find(qn("w:pPr"))
        numbering = ppr.find(qn("w:numPr")) if ppr is not None else None
        if numbering is not None:
            ilvl = numbering.find(qn("w:ilvl"))
            value = ilvl.get(qn("w:val")) if ilvl is not None else "0"
            return min(int(value), 8) if value and value.isdigit() else 0
    return 0 if _style_name(paragraph).startswith("list") else None


def _docx_table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell is returned once per grid column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(cell.text)
        rows.append(cells)
    return rows


# --- .pptx ----------------------------------------------------------------------------------------


def parse_pptx(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    check_zip_container(path, limits, ".pptx")
    with unreadable_as(".pptx"):
        from pptx import Presentation

        presentation = Presentation(str(path))
        title = one_line(presentation.core_properties.title or "")
        if _GENERATED_TITLE.match(title):
            title = ""
        slides = []
        for number, slide in enumerate(presentation.slides, start=1):
            title_shape = slide.shapes.title
            slide_title = one_line(title_shape.text_frame.text) if title_shape is not None and title_shape.has_text_frame else ""
            body = [text for text in (_shape_text(shape) for shape in _reading_order(slide.shapes)
                                      if title_shape is None or shape.shape_id != title_shape.shape_id) if text]
            notes = ""
            if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
                notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                body.append("Speaker notes: " + notes)
            slides.append((number, slide_title, body))
        if not title:
            title = next((slide_title for _, slide_title, _ in slides if slide_title), "")
    sections = []
    for number, slide_title, body in slides:
        text = "\n\n".join(body) or slide_title  # a title-only slide still says something
        if not text:
            continue
        headings = (slide_title,) if slide_title and slide_title.casefold() != title.casefold() else ()
        sections.append(Section(text, headings=headings, location=f"slide {number}"))
    return require_sections(ParsedDocument(title=title or path.stem, kind="pptx", sections=sections))


def _reading_order(shapes):
    # XML order is drawing (z-)order; top-to-bottom, then left-to-right is how a slide is read
    return sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0))


def _shape_text(shape, depth: int = 0) -> str:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    if shape.shape_type == MSO_SHAPE_TYPE.GROUP and depth < 10:
        return "\n".join(t for t in (_shape_text(child, depth + 1) for child in _reading_order(shape.shapes)) if t)
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
        return markdown_table(rows)
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        lines = []
        for paragraph in shape.text_frame.paragraphs:
            text = one_line(paragraph.text)
            if text:
                lines.append("  " * paragraph.level + text if paragraph.level else text)
        return "\n".join(lines)
    return ""
