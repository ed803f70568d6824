"""EPUB books: ebooklib (maintained, reads EPUB 2 and 3) lists the chapters in spine (reading) order;
each chapter's XHTML is read like a web page, cut at its headings, and located as "chapter N: title"."""
from __future__ import annotations

import warnings
from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    Outline,
    ParsedDocument,
    ParseLimits,
    check_zip_container,
    one_line,
    require_sections,
    unreadable_as,
)
from application.ingest.formats.html import DROPPED_TAGS, html_blocks, soup_of


def parse_epub(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    check_zip_container(path, limits, ".epub")
    document = ParsedDocument(title=path.stem, kind="epub")
    with unreadable_as(".epub"):
        import ebooklib
        from ebooklib import epub

        with warnings.catch_warnings():  # ebooklib warns about its own future defaults
            warnings.simplefilter("ignore")
            book = epub.read_epub(str(path), options={"ignore_ncx": True})
        titles = book.get_metadata("DC", "title")
        document.title = one_line(titles[0][0]) if titles and titles[0][0] else path.stem
        toc_titles = _toc_titles(book.toc)
        chapter = 0
        for idref, _linear in book.spine:
            item = book.get_item_with_id(idref)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            soup = soup_of(item.get_content())
            for tag in soup(DROPPED_TAGS):
                tag.decompose()
            items = html_blocks(soup.body or soup)
            if not any(level is None for level, _ in items):
                continue  # a cover image, an empty title page
            chapter += 1
            first_heading = next((text for level, text in items if level is not None and text), "")
            chapter_title = toc_titles.get(item.get_name()) or first_heading
            outline = Outline(location=f"chapter {chapter}: {chapter_title}" if chapter_title else f"chapter {chapter}")
            if not first_heading and chapter_title:
                outline.heading(1, chapter_title)  # the table of contents names a chapter its text does not
            for level, text in items:
                if level is None:
                    outline.add(text)
                else:
                    outline.heading(level, text)
            document.sections.extend(outline.finish())
    return require_sections(document)


def _toc_titles(toc) -> dict[str, str]:
    """File name -> its title in the table of contents (the first entry pointing at the file)."""
    from ebooklib import epub

    titles: dict[str, str] = {}
    pending = list(toc)
    while pending:
        entry = pending.pop(0)
        if isinstance(entry, tuple) and len(entry) == 2:  # (Section, [children])
            section, children = entry
            pending[:0] = [section, *children]
            continue
        href = getattr(entry, "href", None)
        title = one_line(getattr(entry, "title", "") or "")
        if href and title and isinstance(entry, (epub.Link, epub.Section)):
            titles.setdefault(href.split("#", 1)[0], title)
    return titles
