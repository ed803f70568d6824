"""HTML pages (and the XHTML chapters of an EPUB): Beautiful Soup, cut at h1–h6.

Text is rebuilt block by block (paragraphs, list items as ``- item``, data tables as Markdown tables,
``<pre>`` as fenced code), so inline markup does not break a sentence into lines.
"""
from __future__ import annotations

import re
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    Outline,
    ParsedDocument,
    ParseLimits,
    decode_text,
    markdown_table,
    one_line,
    require_sections,
)

# never content: code, styling, widgets and the site's navigation around the page
DROPPED_TAGS = ["script", "style", "noscript", "template", "svg", "nav", "footer", "head", "iframe", "object",
                "button", "select", "canvas"]
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "form", "header", "hr", "html", "li", "main", "ol", "p", "section",
    "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
HEADING = re.compile(r"^h([1-6])$")
# a <table> holding these is page layout (old sites, e-mail HTML), not data: read it as blocks.
# (Paragraphs and lists in cells are normal in data tables: Sphinx wraps every cell in a <p>.)
LAYOUT_INSIDE_TABLE = ["table", "h1", "h2", "h3", "h4", "h5", "h6"]


def soup_of(markup: str | bytes):
    from bs4 import BeautifulSoup

    return BeautifulSoup(markup, "html.parser")


def html_blocks(root) -> list[tuple[int | None, str]]:
    """The page in reading order as ``(level, heading text)`` and ``(None, block text)`` items."""
    from bs4.element import NavigableString, PreformattedString, Tag

    items: list[tuple[int | None, str]] = []
    inline: list[str] = []
    bullet = ""  # "- " while a list item's text is still to come
    in_list = False  # the last block was a list item: the next one continues the same list

    def flush() -> None:
        nonlocal bullet, in_list
        text = "\n".join(one_line(part) for part in "".join(inline).split("\n"))
        inline.clear()
        text = re.sub(r"\n{2,}", "\n", text).strip()
        if not text:
            return
        if bullet and in_list:
            items[-1] = (None, items[-1][1] + "\n" + bullet + text)
        else:
            items.append((None, bullet + text))
        in_list, bullet = bool(bullet), ""

    # iterative, so a deeply nested page cannot exhaust Python's recursion limit
    pending: list[tuple[object, bool]] = [(root, False)]
    while pending:
        node, leaving = pending.pop()
        if leaving:
            flush()
            continue
        if isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, processing instructions
                inline.append(str(node))
            continue
        if not isinstance(node, Tag) or node.name in DROPPED_TAGS:
            continue
        name = node.name
        heading = HEADING.match(name)
        if heading:
            flush()
            in_list = False
            items.append((int(heading.group(1)), node.get_text(" ", strip=True)))
        elif name == "br":
            inline.append("\n")
        elif name == "pre":
            flush()
            code = node.get_text().strip("\n")
            in_list = False
            if code.strip():
                items.append((None, f"```\n{code}\n```"))
        elif name == "table" and node.get("role") != "presentation" and not node.find(LAYOUT_INSIDE_TABLE):
            flush()
            in_list = False
            items.append((None, markdown_table(_table_rows(node))))
        else:
            if name in BLOCK_TAGS:
                flush()
                if name == "li":
                    bullet = "- "
                pending.append((node, True))
            pending.extend((child, False) for child in reversed(node.contents))
    flush()
    return [(level, text) for level, text in items if level is not None or text]


def _table_rows(table) -> list[list[str]]:
    rows = []
    for row in table.find_all("tr"):
        cells = row.find_all(["td", "th"], recursive=False)
        rows.append([cell.get_text(" ", strip=True) for cell in cells])
    return rows


def parse_html(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    soup = soup_of(decode_text(path.read_bytes()))
    page_title = one_line(soup.title.get_text(" ", strip=True)) if soup.title else ""
    for tag in soup(DROPPED_TAGS):
        tag.decompose()
    items = html_blocks(soup)
    first_h1 = next((text for level, text in items if level == 1 and text), "")
    title = page_title or first_h1
    # the page's own h1 names it: left out of the heading paths when it is (part of) the title
    named_by_h1 = first_h1 and (not page_title or first_h1.casefold() in page_title.casefold())
    outline = Outline(first_h1 if named_by_h1 else None)
    for level, text in items:
        if level is None:
            outline.add(text)
        else:
            outline.heading(level, text)
    return require_sections(ParsedDocument(title=title or path.stem, kind="html", sections=outline.finish()))
