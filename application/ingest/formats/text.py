"""Plain text, Markdown and reStructuredText: decoded (UTF-8 or the detected code page), and
Markdown / reST cut at their headings."""
from __future__ import annotations

import io
import re
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    Outline,
    ParsedDocument,
    ParseLimits,
    Section,
    decode_text,
    markdown_table,
    one_line,
    require_sections,
    require_text,
)


def parse_text(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    text = require_text(decode_text(path.read_bytes()))
    return ParsedDocument(title=path.stem, kind="txt", sections=[Section(text)])


# --- Markdown -------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def markdown_headings(text: str) -> list[tuple[int | None, str]]:
    """Markdown source as a list of ``(level, heading)`` and ``(None, body lines)`` items, in order.

    ATX (``## Setup``) and setext (``Setup`` underlined with ``===`` / ``---``) headings; nothing
    inside a fenced code block is a heading.
    """
    items: list[tuple[int | None, str]] = []
    body: list[str] = []
    fence: str | None = None
    paragraph = 0  # lines of the current paragraph at the end of ``body`` (a setext heading's text)
    for line in text.splitlines():
        if fence is not None:
            body.append(line)
            if line.strip().startswith(fence):
                fence = None
            continue
        opening = _FENCE.match(line)
        if opening:
            fence, paragraph = opening.group(1), 0
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx:
            items.append((None, "\n".join(body)))
            body, paragraph = [], 0
            items.append((len(atx.group(1)), atx.group(2) or ""))
            continue
        setext = _SETEXT.match(line)
        if setext and paragraph and not body[-1].lstrip().startswith(("-", "*", "+", ">", "|")):
            heading = " ".join(part.strip() for part in body[-paragraph:])
            items.append((None, "\n".join(body[:-paragraph])))
            body, paragraph = [], 0
            items.append((1 if setext.group(1)[0] == "=" else 2, heading))
            continue
        body.append(line)
        paragraph = paragraph + 1 if line.strip() else 0
    items.append((None, "\n".join(body)))
    return [(level, value) for level, value in items if level is not None or value.strip()]


def _front_matter(text: str) -> tuple[str | None, str]:
    """YAML front matter (Jekyll, Hugo, Docusaurus): its ``title:`` and the text after it."""
    if not text.startswith("---\n"):
        return None, text
    end = text.find("\n---", 4)
    if end < 0:
        return None, text
    block = text[4:end]
    rest = text[end + 4:].split("\n", 1)
    found = _FRONT_MATTER_TITLE.search(block)
    title = found.group(1).strip("'\"") if found else None
    return title, rest[1] if len(rest) > 1 else ""


def parse_markdown(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    text = require_text(decode_text(path.read_bytes()))
    title, text = _front_matter(text)
    items = markdown_headings(text)
    if not title:
        title = next((value for level, value in items if level == 1 and value.strip()), None)
    return require_sections(ParsedDocument(title=one_line(title or "") or path.stem, kind="md",
                                           sections=Outline(title).feed(items).finish()))


# --- reStructuredText -----------------------------------------------------------------------------

# Sphinx sources use directives and roles docutils does not know; they must not stop the parse, and
# nothing in a document may read other files (include, raw :file:, csv-table :url:).
_DOCUTILS_SETTINGS = {
    "report_level": 5,
    "halt_level": 5,
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "_disable_config": True,
    "syntax_highlight": "none",
    "input_encoding": "unicode",
    "doctitle_xform": True,
}


def parse_rst(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    text = require_text(decode_text(path.read_bytes()))
    try:
        title, sections = _rst_with_docutils(text)
    except Exception:  # noqa: BLE001  (docutils is lenient at report_level 5; if it still fails, read the plain structure)
        title, sections = _rst_by_underlines(text)
    if not sections:  # a document of unknown directives only: its text is still worth keeping
        title, sections = _rst_by_underlines(text)
    return require_sections(ParsedDocument(title=title or path.stem, kind="rst", sections=sections))


def _rst_with_docutils(text: str):
    from docutils import nodes
    from docutils.core import publish_doctree

    settings = dict(_DOCUTILS_SETTINGS, warning_stream=io.StringIO())
    tree = publish_doctree(text, settings_overrides=settings)
    title_node = next((child for child in tree.children if isinstance(child, nodes.title)), None)
    title = one_line(title_node.astext()) if title_node is not None else None
    outline = Outline()
    pending = [(tree, 0)]
    # iterative, in document order: a section's own blocks, then its subsections
    while pending:
        node, depth = pending.pop()
        if depth:
            title_child = next((c for c in node.children if isinstance(c, nodes.title)), None)
            outline.heading(depth, title_child.astext() if title_child is not None else "")
        subsections = []
        for child in node.children:
            if isinstance(child, nodes.section):
                subsections.append((child, depth + 1))
            elif isinstance(child, nodes.subtitle):
                # docutils lifts a lone top section's title into the document's subtitle: it is a heading
                outline.heading(1, child.astext())
            else:
                outline.add(_rst_block(child))
        pending.extend(reversed(subsections))
    return title, outline.finish()


_RST_SKIPPED = ("system_message", "comment", "substitution_definition", "target", "raw", "pending",
                "docinfo", "decoration", "title")


def _rst_block(node) -> str:
    from docutils import nodes

    if isinstance(node, nodes.Text):
        return str(node)
    if node.tagname in _RST_SKIPPED:
        return ""
    if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
        lines = []
        for item in node.children:
            text = "\n".join(b for b in (_rst_block(child) for child in item.children) if b)
            lines.append("- " + text.replace("\n", "\n  "))
        return "\n".join(lines)
    if isinstance(node, nodes.table):
        rows = [[entry.astext() for entry in row.children] for row in node.findall(nodes.row)]
        return markdown_table(rows)
    if isinstance(node, (nodes.literal_block, nodes.doctest_block)):
        return "```\n" + node.astext() + "\n```"
    if isinstance(node, (nodes.paragraph, nodes.line_block)) or not node.children:
        return node.astext()
    # containers (admonitions, block quotes, definition lists, ...): their blocks in order
    return "\n\n".join(b for b in (_rst_block(child) for child in node.children) if b.strip())


_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")


def _rst_by_underlines(text: str):
    """The fallback: a heading is a line underlined (and maybe overlined) with a repeated punctuation
    character at least as long as it; levels follow the order in which the styles first appear."""
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    items: list[tuple[int | None, str]] = []
    body: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        over = bool(_UNDERLINE.match(line)) and index + 2 < len(lines) and _UNDERLINE.match(lines[index + 2] or "")
        if over and lines[index + 1].strip() and len(lines[index + 2].rstrip()) >= len(lines[index + 1].strip()):
            style, heading, step = (lines[index + 2][0], True), lines[index + 1].strip(), 3
        elif line.strip() and not _UNDERLINE.match(line) and _UNDERLINE.match(following) \
                and len(following.rstrip()) >= len(line.rstrip()):
            style, heading, step = (following[0], False), line.strip(), 2
        else:
            body.append(line)
            index += 1
            continue
        if style not in styles:
            styles.append(style)
        items.append((None, "\n".join(body)))
        items.append((styles.index(style) + 1, heading))
        body = []
        index += step
    items.append((None, "\n".join(body)))
    title = None
    first_levels = [level for level, _ in items if level is not None]
    if first_levels and first_levels.count(1) == 1:  # one top heading: it names the document
        title = next(value for level, value in items if level == 1)
    return title, Outline(title).feed(items).finish()
