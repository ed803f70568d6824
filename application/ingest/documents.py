"""What a source hands to ingestion: documents fetched to local files, and the errors of a whole source.

A *source* (a folder, an upload, a web site, a git repository) is read by its fetcher into
``FetchedDocument`` items: a local file to parse plus the stable ``uri`` that identifies the document
across syncs. The pipeline (``application.ingest.pipeline``) parses, chunks and embeds them; the sync
(``application.ingest.sync``) decides what is new, changed or gone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from application.errors import BadRequest


HEADING_SEPARATOR = " › "


def heading_path(title: str, headings: tuple[str, ...] | list[str] = ()) -> str:
    """``Title › Section › Subsection``: where a chunk sits, as the sources panel and the prompt show it."""
    return HEADING_SEPARATOR.join(part for part in (title, *headings) if part)


class SourceError(BadRequest):
    """A whole source cannot be read (a URL that is not http(s), a refused address, a repository that does
    not exist, a robots.txt that disallows everything); the message says why and what to do."""


@dataclass
class FetchedDocument:
    """One document of a source, fetched to a local file.

    ``path``'s suffix picks the parser (a web page's main text arrives as ``.md``). ``uri`` identifies
    the document across syncs (the URL; ``git+<repo>#<path>``; the absolute file path).
    """

    uri: str
    path: Path
    title: str | None = None
    # where it came from, shown with its chunks: "commit 1a2b3c4", "https://.../page" (fetched 2026-12-04)
    origin: str | None = None


@dataclass
class FetchResult:
    """What one read of a source found.

    ``complete``: every document of the source was listed, so a document missing from ``documents``
    (and ``unchanged_uris``) is gone upstream. False when the page limit or errors cut the listing
    short: then nothing is removed. (A crawl's depth is part of what the source is, not a cut.)
    """

    documents: list[FetchedDocument] = field(default_factory=list)
    # documents known to be unchanged without fetching them (git: files the diff does not touch)
    unchanged_uris: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (uri or url, one readable line)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (uri, why): unsupported type, robots.txt
    complete: bool = True
    # the position the next sync starts from (git: the commit synced)
    cursor: str | None = None
