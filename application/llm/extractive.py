"""The offline answerer used when no LLM is configured.

It does not write new text: it picks the sentences of the retrieved chunks that
are closest to the question (cosine similarity with the embedding model in
service), quotes them in document order and cites each with ``[n]``. The
answer says so, so nobody mistakes it for a generated one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator

from application.llm.base import LLM, Prompt

INTRO = "Here is what the documents say (quoted from the best-matching passages; no language model is configured):\n\n"
NOTHING_INDEXED = (
    "I found nothing in the indexed documents for this question. If the answer should be there, "
    "upload the documents that hold it, or rephrase the question with the words they use."
)
WEAK_MATCH = (
    "The documents do not seem to answer this directly. The closest passage I found is:\n\n"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_MARKUP = re.compile(r"^\s*(#{1,6}\s+|[-*+>]\s+|\d+[.)]\s+)")
_WORDS = re.compile(r"\S+\s*")


@dataclass
class _Sentence:
    source: int  # 1-based source number
    position: int
    text: str
    score: float = 0.0


def split_sentences(text: str) -> list[str]:
    """Sentences of a chunk; lines (headings, list items) never run into each other."""
    sentences = []
    for line in text.splitlines():
        line = _MARKUP.sub("", line).strip()
        if not line:
            continue
        sentences.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return sentences


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
        max_chars: int = 400,
    ):
        self._get_embeddings = get_embeddings
        self.max_sentences = max_sentences
        self.min_score = min_score
        self.keep_within = keep_within
        self.min_words = min_words
        self.max_chars = max_chars

    def stream(self, prompt: Prompt) -> Iterator[str]:
        for piece in _WORDS.findall(self.answer(prompt)):
            yield piece

    def answer(self, prompt: Prompt) -> str:
        candidates = self._candidates(prompt.sources)
        if not candidates:
            return NOTHING_INDEXED
        embeddings = self._get_embeddings()
        texts = [c.text for c in candidates]
        if getattr(embeddings, "query_prefix", "") == getattr(embeddings, "document_prefix", ""):
            # one forward pass instead of two when queries and passages are encoded alike
            question, *vectors = embeddings.embed_documents([prompt.question, *texts])
        else:
            question, vectors = embeddings.embed_query(prompt.question), embeddings.embed_documents(texts)
        for sentence, vector in zip(candidates, vectors):
            sentence.score = _cosine(question, vector)
        ranked = sorted(candidates, key=lambda s: s.score, reverse=True)
        best = ranked[0]
        if best.score < self.min_score:
            return f"{WEAK_MATCH}> {best.text} [{best.source}]"
        floor = max(self.min_score, best.score - self.keep_within)
        chosen = [s for s in ranked if s.score >= floor][: self.max_sentences]
        # document order reads better than score order
        chosen.sort(key=lambda s: (s.source, s.position))
        return INTRO + _as_bullets(chosen)

    def _candidates(self, sources) -> list[_Sentence]:
        seen = set()
        candidates = []
        for number, hit in enumerate(sources, start=1):
            for position, text in enumerate(split_sentences(hit.text)):
                if len(text.split()) < self.min_words or text.lower() in seen:
                    continue
                seen.add(text.lower())
                if len(text) > self.max_chars:
                    text = text[: self.max_chars].rsplit(" ", 1)[0] + " …"
                candidates.append(_Sentence(number, position, text))
        return candidates


def _as_bullets(sentences: list[_Sentence]) -> str:
    """One bullet per source: consecutive sentences of a source are quoted together."""
    lines = []
    for sentence in sentences:
        if lines and lines[-1][0] == sentence.source:
            lines[-1][1].append(sentence.text)
        else:
            lines.append((sentence.source, [sentence.text]))
    return "\n".join(f"- {' '.join(texts)} [{source}]" for source, texts in lines)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = (sum(x * x for x in a) ** 0.5) * (sum(y * y for y in b) ** 0.5)
    return dot / norm if norm else 0.0
