"""Split parsed documents into chunks sized in the embedding model's own tokens,
so that no chunk is longer than what the model reads (LangChain's splitters)."""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from typing import TYPE_CHECKING

from application.ingest.parsers import ParsedDocument

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

log = logging.getLogger(__name__)

CHUNK_NAMESPACE = uuid.UUID("5b1c6f6e-6d2a-4d8e-9a57-2f1f0c3d9e11")
# [CLS] and [SEP] (or their equivalents) take two of the model's positions
SPECIAL_TOKENS = 2


@dataclass
class ChunkDraft:
    position: int
    text: str
    page: int | None
    token_count: int
    headings: tuple[str, ...] = ()
    location: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def chunk_id_for(source_id: str, text: str, occurrence: int = 0) -> str:
    """Stable id of a chunk's text in its document, wherever it moves: a paragraph inserted above it
    leaves its id (and so its vector and its feedback) alone. ``occurrence`` tells apart the same
    text repeated in one document (0 for the first)."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{source_id}:{digest}:{occurrence}"))


def chunk_ids_for(source_id: str, texts: list[str]) -> list[str]:
    """The ids of a document's chunk texts, in order (repeats numbered by occurrence)."""
    seen: dict[str, int] = {}
    ids = []
    for text in texts:
        occurrence = seen.get(text, 0)
        seen[text] = occurrence + 1
        ids.append(chunk_id_for(source_id, text, occurrence))
    return ids


def own_heading(section) -> str:
    """The section's own heading line, when its text does not start with it already."""
    heading = section.headings[-1].strip() if section.headings else ""
    return "" if not heading or section.text.lstrip().startswith(heading) else heading


class Chunker:
    def __init__(self, embeddings, chunk_tokens: int | None = None, overlap_tokens: int = 32):
        limit = max(16, embeddings.max_seq_length - SPECIAL_TOKENS)
        size = chunk_tokens or limit
        if size > limit:
            log.warning("CHUNK_TOKENS=%s is more than the model reads (%s); using %s", size, limit, limit)
            size = limit
        self.chunk_tokens = size
        self.overlap_tokens = min(overlap_tokens, size // 2)
        self.count_tokens = embeddings.count_tokens

    def _splitter(self, kind: str, size: int | None = None) -> RecursiveCharacterTextSplitter:
        # imported here: langchain_core costs ~0.13 s, and the web app imports this module at start-up
        from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

        separators = (
            RecursiveCharacterTextSplitter.get_separators_for_language(Language.MARKDOWN)
            if kind == "md"
            else ["\n\n", "\n", ". ", " ", ""]
        )
        return RecursiveCharacterTextSplitter(
            chunk_size=size or self.chunk_tokens,
            chunk_overlap=min(self.overlap_tokens, (size or self.chunk_tokens) // 2),
            length_function=self.count_tokens,
            separators=separators,
            keep_separator="end" if kind != "md" else True,
            strip_whitespace=True,
        )

    def split(self, document: ParsedDocument) -> list[ChunkDraft]:
        splitter = self._splitter(document.kind)
        drafts: list[ChunkDraft] = []
        # a chunk never crosses a section (a heading's section, a page, a slide): an edit in one
        # section moves no chunk boundary in another, so their ids and vectors stay
        for section in document.sections:
            for piece in self._section_pieces(section, splitter, document.kind):
                piece = piece.strip()
                if piece:
                    drafts.append(ChunkDraft(len(drafts), piece, section.page, self.count_tokens(piece),
                                             tuple(section.headings), section.location))
        return drafts

    def _section_pieces(self, section, splitter, kind: str) -> list[str]:
        """A section's chunks; the first starts with the section's own heading line, as the document shows
        it (its words are the best clue to what the section is about, for BM25 above all). The heading is
        put on the first piece after the split, so that it never ends up a chunk of its own."""
        pieces = [p for p in splitter.split_text(section.text) if p.strip()]
        heading = own_heading(section)
        if not heading or not pieces:
            return pieces
        room = self.chunk_tokens - self.count_tokens(heading) - 2
        if self.count_tokens(pieces[0]) > room and room >= 16:
            # the section again with room for the heading (a re-split of the first piece alone would leave
            # a small fragment behind it)
            pieces = [p for p in self._splitter(kind, room).split_text(section.text) if p.strip()]
        pieces[0] = f"{heading}\n\n{pieces[0].strip()}"
        return pieces
