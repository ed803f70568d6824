"""The offline answerer used when no LLM is configured.

It does not write new text: it reads each retrieved chunk as markdown blocks (paragraphs, lists, tables,
code), cuts the paragraphs into whole sentences, and picks the sentences closest to the question (cosine
similarity with the embedding model in service, one pass for all of them). When the question asks for an
enumeration ("which formats", "what options") and a table or a list of a chunk matches it, that block is
quoted whole. Every quote is cited with ``[n]``, in document order. A table without its header, a heading,
a line that is only a link and code are never quoted; nor is a short piece of a sentence that a chunk
boundary cut. A long run that a boundary cut, or that has no sentence end at all (a table flattened by PDF
extraction), is a *passage*: quoted up to ``passage_chars``, with "…" where it is cut. The answer says it is
quoted, so nobody mistakes it for a generated one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from application.llm.base import LLM, Prompt
from plugins.batching import VectorCache, encode_by_length

INTRO = "Here is what the documents say (quoted from the best-matching passages; no language model is configured):\n\n"
NOTHING_INDEXED = (
    "I found nothing in the indexed documents for this question. If the answer should be there, "
    "upload the documents that hold it, or rephrase the question with the words they use."
)
WEAK_MATCH = (
    "The documents do not seem to answer this directly. The closest passage I found is:\n\n"
)
# a sentence ends at . ! ? followed by a space and a capital, a digit or an opening quote; or, in text
# extracted from PDFs, at a period glued to the next sentence's capitalised word ("incidents.Further")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[A-Z0-9`*])|(?<=[a-z]{2}[.!?])(?=[A-Z][a-z])")
_ENDS_WHOLE = re.compile(r"[.!?…][\"'”’)\]*_`]*$")
_PAGE_NUMBER = re.compile(r"(?<=[.!?])\d{1,3}$")  # a PDF page number glued to the chunk's last sentence
_HEADING = re.compile(r"^\s{0,3}#{1,6}(\s|$)")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ITEM = re.compile(r"^(\s*)([-*+]|\d{1,3}[.)])\s+(.*)$")
_TABLE_ROW = re.compile(r"^\s*\|")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_ONLY_LINKS = re.compile(r"^(?:[\s,;:|·•-]*(?:\[[^\]\n]*\]\([^)\s]*\)|<?https?://\S+>?))+[\s.,;:]*$")
# a record of a sheet, a CSV or a JSON file as the readers write it: "Item: Tungsten sprockets; Warehouse: Hamburg"
_RECORD = re.compile(r"^[^:;]{1,80}: [^;]*(?:; [^:;]{1,80}: [^;]*)+$")
# a text that starts with a plain lowercase word (not a name like "apt-get" or "stable/main/") or with
# closing punctuation began in the previous chunk
_CONTINUES = re.compile(r"^(?:[a-z]+[\s,;:)]|[,;:)\]}.…–—])")
# "which formats…", "what options…", "list the…": a question answered by an enumeration (see is_enumeration_question)
_QUESTION_WORDS = re.compile(r"[a-z][a-z'’-]*")
_ENUMERATION_VERBS = frozenset({"list", "name", "enumerate"})
_SKIPPED = frozenset({"are", "were", "the", "all", "kind", "kinds", "type", "types", "sort", "sorts", "of"})
# words ending in s that are no plural noun
_NOT_PLURAL = frozenset("""
this is was has does goes its his hers ours yours theirs us yes as less unless always perhaps sometimes besides
happens means uses needs takes makes gets seems works runs says causes contains includes requires supports
""".split())
# a streamed piece: up to 8 words, or the rest of a line (each piece is an SSE frame the client parses; one
# per word cost the server and the client a frame per word for an answer that exists whole)
_PIECES = re.compile(r"(?:[^\S\n]*\S+){1,8}[^\S\n]*\n*|\s+")
# sentence vectors kept, per answerer (1.5 kB each with all-MiniLM-L6-v2's 384 float32: 12 MB). Embedding the
# ~25 sentences of 4 chunks was most of an offline answer's cost (docs/performance.md)
SENTENCE_CACHE_SIZE = 8192


@dataclass
class _Quote:
    """A candidate quote: one sentence, or a whole table or list (``block``)."""

    source: int  # 1-based source number
    position: int  # order inside the source
    text: str  # what is embedded and, for a sentence, quoted
    block: list[str] | None = None  # the markdown lines of a table or a list, as quoted
    kind: str = "sentence"  # sentence | passage | table | list
    lead: str = ""  # the sentence ending with ":" that introduces a block
    members: tuple[int, ...] = ()  # positions of the item sentences a list block holds
    score: float = 0.0


@dataclass
class _Block:
    kind: str  # paragraph | list | table | code | heading
    lines: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)  # a list's items, each one line of text
    ordered: bool = False


def split_sentences(text: str) -> list[str]:
    """The whole sentences of a chunk's paragraphs and list items (headings, code, tables left out)."""
    sentences = []
    for block in parse_blocks(text):
        for paragraph in ([" ".join(block.lines)] if block.kind == "paragraph" else block.items):
            sentences.extend(_sentences(clean_inline(paragraph)))
    return sentences


def parse_blocks(text: str, heading: str = "") -> list[_Block]:
    """A chunk's markdown blocks, in order. ``heading``: the section's own heading, which the chunker puts
    as a plain first line."""
    lines = text.splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if len(fences) % 2 and not any(line.strip() for line in lines[:fences[0]]) and not lines[fences[0]].strip()[3:]:
        # the chunk starts inside a code block: its first fence closes it
        lines = lines[fences[0] + 1:]
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        if _FENCE.match(line):
            end = next((j for j in range(i + 1, len(lines)) if _FENCE.match(lines[j])), len(lines))
            blocks.append(_Block("code", lines[i:end + 1]))
            i = end + 1
            continue
        if _HEADING.match(line) or (not blocks and heading and stripped == heading.strip()):
            blocks.append(_Block("heading", [stripped]))
            i += 1
            continue
        if _TABLE_ROW.match(line):
            j = i
            while j < len(lines) and _TABLE_ROW.match(lines[j]):
                j += 1
            blocks.append(_Block("table", [row.strip() for row in lines[i:j]]))
            i = j
            continue
        item = _ITEM.match(line)
        if item:
            block = _Block("list", ordered=item.group(2)[0].isdigit())
            indent = len(item.group(1))
            while i < len(lines):
                line = lines[i]
                item = _ITEM.match(line)
                if line.strip().startswith(("```", "~~~")):
                    # code inside an item is not quoted: skip to its closing fence
                    i = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(("```", "~~~"))),
                             len(lines))
                elif item and len(item.group(1)) <= indent + 1:
                    block.items.append(item.group(3).strip())
                elif item or (line.strip() and (line[:1].isspace() or not _starts_block(line))):
                    # a nested item or a continuation line belongs to the item above
                    text_ = item.group(3) if item else line
                    block.items[-1] = f"{block.items[-1]} {text_.strip()}".strip()
                elif not line.strip() and i + 1 < len(lines) and (
                        _ITEM.match(lines[i + 1]) or lines[i + 1][:1].isspace()) and lines[i + 1].strip():
                    pass  # a loose list: a blank line between items
                else:
                    break
                i += 1
            blocks.append(block)
            continue
        j = i
        while j < len(lines) and lines[j].strip() and (j == i or not _starts_block(lines[j])):
            j += 1
        if j < len(lines) and _SETEXT.match(lines[j]) and j == i + 1:
            blocks.append(_Block("heading", [stripped]))
            i = j + 1
            continue
        blocks.append(_Block("paragraph", [raw.strip().lstrip(">").strip() for raw in lines[i:j]]))
        i = j
    return blocks


def _starts_block(line: str) -> bool:
    return bool(_FENCE.match(line) or _HEADING.match(line) or _TABLE_ROW.match(line) or _ITEM.match(line))


def clean_inline(text: str) -> str:
    """Markdown links become their text (a relative link means nothing in an answer)."""
    text = _AUTOLINK.sub(r"\1", text)
    text = _LINK.sub(lambda m: "" if m.group(0).startswith("!") else (m.group(1) or m.group(2)), text)
    return re.sub(r"\s{2,}", " ", text).strip()


def _sentences(paragraph: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(paragraph) if s and s.strip()]


def is_enumeration_question(question: str) -> bool:
    """Whether the question asks for several things: "Which formats…?", "What kinds of options…?", "List…"."""
    words = _QUESTION_WORDS.findall(question.lower())
    if not words:
        return False
    if words[0] in _ENUMERATION_VERBS:
        return True
    if words[0] not in ("which", "what"):
        return False
    rest = [w for w in words[1:] if w not in _SKIPPED][:3]
    return any(len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "'s", "’s")) and w not in _NOT_PLURAL
               for w in rest)


def _structured(lines: list[str]) -> bool:
    """Lines that are units of their own, not prose wrapped over lines: records, or several short lines
    none of which ends a sentence."""
    lines = [line.strip() for line in lines if line.strip()]
    if lines and all(_RECORD.match(line) for line in lines):
        return True
    return len(lines) > 1 and all(len(line) <= 60 and not _ENDS_WHOLE.search(line) and not _CONTINUES.match(line)
                                  for line in lines)


class ExtractiveLLM(LLM):
    """Example::

        llm = ExtractiveLLM(lambda: load_embeddings("all-MiniLM-L6-v2"))
        print(llm.complete(template.render("How do refunds work?", hits)))
    """

    name = "extractive"

    def __init__(
        self,
        get_embeddings: Callable[[], object],
        *,
        max_sentences: int = 4,
        min_score: float = 0.25,
        keep_within: float = 0.12,
        min_words: int = 4,
        max_chars: int = 3000,
        max_block_lines: int = 40,
        block_within: float = 0.2,
        min_passage_chars: int = 200,
        passage_chars: int = 600,
    ):
        self._get_embeddings = get_embeddings
        self._sentence_vectors = VectorCache(SENTENCE_CACHE_SIZE)
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.keep_within = keep_within
        self.min_words = min_words
        self.max_chars = max_chars
        self.max_block_lines = max_block_lines
        # a table or a list embeds as many cells at once, so it scores below a sentence on the same topic
        self.block_within = block_within
        self.min_passage_chars = min_passage_chars
        self.passage_chars = passage_chars

    def stream(self, prompt: Prompt, usage: dict | None = None) -> Iterator[str]:  # no tokens: usage stays empty
        for piece in _PIECES.findall(self.answer(prompt)):
            yield piece

    def answer(self, prompt: Prompt) -> str:
        if not prompt.sources:
            return NOTHING_INDEXED
        candidates = self._candidates(prompt.sources)
        if not candidates:
            # passages, but no whole sentence in them (a flattened table, text without sentence ends)
            first = clean_inline(" ".join(prompt.sources[0].text.split()))
            cut = first if len(first) <= self.max_chars else first[: self.max_chars].rsplit(" ", 1)[0] + " …"
            return f"{WEAK_MATCH}> {cut} [1]"
        embeddings = self._get_embeddings()
        enumeration = is_enumeration_question(prompt.question)
        if not enumeration:
            # a table or a list answers only an enumeration (_choose): not worth embedding otherwise
            candidates = [q for q in candidates if not q.block] or candidates
        question, vectors = self._vectors(embeddings, prompt.question, [c.text for c in candidates])
        for quote, score in zip(candidates, _cosines(question, vectors)):
            quote.score = score
        chosen = self._choose(candidates, enumeration)
        if chosen is None:
            best = max(candidates, key=lambda q: q.score)
            return WEAK_MATCH + (_as_block(best) if best.block else f"> {best.text} [{best.source}]")
        return INTRO + _as_markdown(chosen)

    def _vectors(self, embeddings, question: str, texts: list[str]) -> tuple[list[float], list]:
        """The question's vector and each text's, the texts' from the cache where it has them: a chunk that
        answers often is cut into the same sentences every time. The rest are encoded in groups of similar
        length, by the model thread that serves every request where the backend has one
        (``embed_documents_shared``). The cache and the groups change only which texts share a forward
        pass (padding is masked: the last float bits at most); the answers were the same as with one pass
        over all on 80 of 80 prompts (docs/performance.md)."""
        fingerprint = getattr(embeddings, "fingerprint", None)
        cache = self._sentence_vectors if isinstance(fingerprint, str) else {}
        found = {text: cache.get((fingerprint, text)) for text in texts}
        missing = [text for text, vector in found.items() if vector is None]
        alike = getattr(embeddings, "query_prefix", "") == getattr(embeddings, "document_prefix", "")
        # the question rides along with the sentences when queries and passages are encoded alike
        to_encode = [question, *missing] if alike and missing else missing
        shared = getattr(embeddings, "embed_documents_shared", None)
        encoded = (shared(to_encode) if shared is not None and to_encode
                   else encode_by_length(embeddings.embed_documents, to_encode))
        question_vector = encoded[0] if alike and missing else embeddings.embed_query(question)
        fresh = encoded[1:] if alike and missing else encoded
        for text, vector in zip(missing, fresh):
            found[text] = vector
            if cache is self._sentence_vectors:
                cache.put((fingerprint, text), vector)
        return question_vector, [found[text] for text in texts]

    def _choose(self, candidates: list[_Quote], enumeration: bool) -> list[_Quote] | None:
        by_position = {(q.source, q.position): q for q in candidates if not q.block}
        if enumeration:
            # a list answers as well as its best item does; a table has no items of its own to compare
            for quote in candidates:
                if quote.members:
                    quote.score = max([quote.score, *(by_position[(quote.source, m)].score for m in quote.members
                                                       if (quote.source, m) in by_position)])
        else:
            candidates = [q for q in candidates if not q.block]
        if not candidates:
            return None
        ranked = sorted(candidates, key=lambda q: (q.score, q.block is not None), reverse=True)
        best = ranked[0]
        if best.score < self.min_score:
            return None
        floor = max(self.min_score, best.score - self.keep_within)
        chosen: list[_Quote] = []
        covered: set[tuple[int, int]] = set()
        if enumeration:
            # the best-matching block within reach of the best sentence answers an enumeration whole
            block_floor = max(self.min_score, best.score - self.block_within)
            block = next((q for q in ranked if q.block and q.score >= block_floor), None)
            if block is not None:
                chosen.append(block)
                covered = {(block.source, m) for m in block.members}
        for quote in ranked:
            if len(chosen) >= self.max_sentences or quote.score < floor:
                break
            if not quote.block and (quote.source, quote.position) not in covered:
                chosen.append(quote)
        # the best sentence with what follows it in its passage: an answer's detail comes after the line
        # that matches the question (as extractive readers return a span with its context)
        if not best.block:
            taken = {(q.source, q.position) for q in chosen} | covered
            follow = by_position.get((best.source, best.position + 1))
            if (follow is not None and (follow.source, follow.position) not in taken
                    and follow.score >= max(self.min_score, best.score - 2 * self.keep_within)):
                chosen.append(follow)  # on the question's subject still: not the next paragraph's topic
        # document order reads better than score order
        chosen.sort(key=lambda q: (q.source, q.position))
        return chosen

    def _candidates(self, sources) -> list[_Quote]:
        seen: set[str] = set()
        candidates: list[_Quote] = []
        for number, hit in enumerate(sources, start=1):
            for quote in self._quotes_of(number, hit):
                key = quote.text.lower()
                if key in seen:
                    continue
                seen.add(key)
                candidates.append(quote)
        return candidates

    def _quotes_of(self, number: int, hit) -> list[_Quote]:
        """The sentences and blocks of one chunk that may be quoted, without what its boundaries cut."""
        headings = getattr(hit, "headings", None) or []
        blocks = parse_blocks(hit.text, headings[-1] if headings else "")
        quotes: list[_Quote] = []
        position = 0
        lead = ""
        # a table or a list is read with its caption: the section's heading and the sentence just before it
        context = headings[-1] if headings else ""
        before = ""
        for index, block in enumerate(blocks):
            first, last = index == 0, index == len(blocks) - 1
            if block.kind == "paragraph" and _structured(block.lines):
                # records (rows of a sheet) or short lines without sentence ends (an OCR'd invoice: "Total due:
                # 120 EUR"): each line is a whole unit, with no sentence end to wait for
                for line in block.lines:
                    position += 1
                    record = clean_inline(line.strip())
                    if self._quotable(record):
                        quotes.append(_Quote(number, position, record))
                lead = before = ""
                continue
            if block.kind == "paragraph":
                sentences = _sentences(clean_inline(" ".join(block.lines)))
                if last and sentences:
                    sentences[-1] = _PAGE_NUMBER.sub("", sentences[-1])
                lead = ""
                before = sentences[-1] if sentences else ""
                links_only = _ONLY_LINKS.match(" ".join(block.lines))
                for k, sentence in enumerate(sentences):
                    position += 1
                    starts_cut = first and k == 0 and bool(_CONTINUES.match(sentence))
                    ends_cut = last and k == len(sentences) - 1 and not _ENDS_WHOLE.search(sentence)
                    if sentence.endswith(":") and not ends_cut:
                        lead = sentence if k == len(sentences) - 1 else ""
                        continue  # it introduces what follows; alone it says nothing
                    if links_only:
                        continue
                    if starts_cut or ends_cut or len(sentence) > self.max_chars:
                        passage = self._passage(sentence, starts_cut)
                        if passage:
                            quotes.append(_Quote(number, position, passage, kind="passage"))
                    elif self._quotable(sentence):
                        quotes.append(_Quote(number, position, sentence))
                continue
            if block.kind == "list":
                members = []
                for k, item in enumerate(block.items):
                    item = clean_inline(item)
                    position += 1
                    if first and k == 0 and _CONTINUES.match(item):
                        continue
                    if self._quotable(item) and not _ONLY_LINKS.match(item):
                        quotes.append(_Quote(number, position, item))
                        members.append(position)
                items = [clean_inline(item) for item in block.items]
                if len(block.items) >= 2 and len(items) <= self.max_block_lines and not (first and _CONTINUES.match(items[0])):
                    lines = [f"{k}. {item}" if block.ordered else f"- {item}" for k, item in enumerate(items, start=1)]
                    position += 1
                    quotes.append(_Quote(number, position, " ".join([context, before, *items]).strip(), lines,
                                         "list", lead, tuple(members)))
            elif block.kind == "table":
                rows = block.lines
                if rows and not rows[-1].rstrip().endswith("|"):
                    rows = rows[:-1]  # the chunk ends mid-row
                # a table is quotable with its header: one that starts without it began in another chunk
                if len(rows) >= 3 and _TABLE_RULE.match(rows[1]) and len(rows) <= self.max_block_lines:
                    position += 1
                    cells = [clean_inline(r.replace("|", " ")) for k, r in enumerate(rows) if k != 1]
                    quotes.append(_Quote(number, position, " ".join([context, before, *cells]).strip(),
                                         [clean_inline(r) for r in rows], "table", lead))
            lead = before = ""
        return quotes

    def _passage(self, text: str, starts_cut: bool) -> str:
        """A long run of text that a chunk boundary cut or that has no sentence end (a table flattened by
        PDF extraction), as a quote marked with "…" where it is cut; "" when it is too short to say anything
        (a short fragment reads as a dangling half-sentence, not as a passage)."""
        if len(text) < self.min_passage_chars:
            return ""
        cut = len(text) > self.passage_chars
        if cut:
            text = text[: self.passage_chars].rsplit(" ", 1)[0].rstrip(",;:")
        return ("… " if starts_cut else "") + text + (" …" if cut or not _ENDS_WHOLE.search(text) else "")

    def _quotable(self, sentence: str) -> bool:
        # a longer "sentence" is extraction noise (a flattened table, text without sentence ends); it is
        # left out rather than cut, since a cut sentence is a fragment
        return len(sentence.split()) >= self.min_words and len(sentence) <= self.max_chars


def _as_markdown(quotes: list[_Quote]) -> str:
    """Consecutive sentences of a source are one bullet; a table or a list stands as its own block."""
    parts: list[str] = []
    bullets: list[tuple[int, list[str]]] = []

    def flush():
        if bullets:
            parts.append("\n".join(f"- {' '.join(texts)} [{source}]" for source, texts in bullets))
            bullets.clear()

    for quote in quotes:
        if quote.block:
            flush()
            parts.append(_as_block(quote))
        elif bullets and bullets[-1][0] == quote.source:
            bullets[-1][1].append(quote.text)
        else:
            bullets.append((quote.source, [quote.text]))
    flush()
    return "\n\n".join(parts)


def _as_block(quote: _Quote) -> str:
    """A list with each item cited; a table with its citation in a paragraph right after it (on the very
    next line, GitHub-flavoured Markdown would read it as one more row of the table)."""
    lead = f"{quote.lead}\n\n" if quote.lead else ""
    if quote.kind == "list":
        return lead + "\n".join(f"{line} [{quote.source}]" for line in quote.block)
    return lead + "\n".join(quote.block) + f"\n\n[{quote.source}]"


def _cosines(question, vectors) -> list[float]:
    """The cosine of each vector to the question's (float64, as the pure-Python sum it replaces)."""
    if not len(vectors):
        return []
    matrix = np.asarray(vectors, dtype=np.float64)
    q = np.asarray(question, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(q)
    dots = matrix @ q
    return [float(d / n) if n else 0.0 for d, n in zip(dots, norms)]
