"""Whether an answer says only what its cited sources say.

An answer is cut into *claims*: each sentence of a paragraph, each list item, and a markdown table as
one claim (with the citation alone on the line after it, a blank line between or not). A claim that cites ``[n]`` is *supported* when source ``n``
states it: the judge says so when one is configured (``Judge.supports``), else, offline, when at least
:data:`OVERLAP` of the claim's content words occur in that source. Per answer this gives the share of
cited claims that are supported, the share of claims without support (uncited or unsupported), and
whether the answer cites nothing at all. Lines that introduce rather than claim (the offline
answerer's intro, a line ending with ``:``) and claims of fewer than :data:`MIN_WORDS` content
words are left out.

Example::

    check = citation_support("Refunds take 30 days [1].", [hit], judge=None)
    check.supported_citations, check.unsupported_sentences, check.cites_nothing   # 1.0, 0.0, False
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from application.llm.extractive import INTRO, WEAK_MATCH
from application.llm.prompt import cited_numbers

OVERLAP = 0.6
MIN_WORDS = 3
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# a sentence ends at . ! ? before a space and the next sentence, or after its citation ("… days. [1] Next");
# a citation right after the end belongs to the sentence before it, not to the next one
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9]|\[(?!\d+(?:\s*,\s*\d+)*\]))|(?<=\])\s+(?=[A-Z])")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers him his how
i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over own
same she should so some such than that the their theirs them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
""".split())


@dataclass
class Claim:
    text: str
    cited: tuple[int, ...]
    supported: bool | None = None  # None: cites nothing


@dataclass
class Faithfulness:
    claims: list[Claim] = field(default_factory=list)
    method: str = "overlap"

    @property
    def cited(self) -> list[Claim]:
        return [c for c in self.claims if c.cited]

    @property
    def supported_citations(self) -> float | None:
        """Of the claims that cite a source, the share the source supports."""
        cited = self.cited
        return sum(bool(c.supported) for c in cited) / len(cited) if cited else None

    @property
    def unsupported_sentences(self) -> float | None:
        """Of all claims, the share without support (citing nothing, or a source that does not say it)."""
        return sum(not c.supported for c in self.claims) / len(self.claims) if self.claims else None

    @property
    def cites_nothing(self) -> bool:
        return not self.cited

    def to_dict(self) -> dict:
        return {"claims": len(self.claims), "cited": len(self.cited),
                "supported": sum(bool(c.supported) for c in self.claims),
                "supported_citations": self.supported_citations,
                "unsupported_sentences": self.unsupported_sentences, "cites_nothing": self.cites_nothing,
                "method": self.method,
                "unsupported": [c.text[:200] for c in self.claims if not c.supported][:5]}


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS]


def claims_of(answer: str, source_count: int) -> list[Claim]:
    """The claims of an answer with the source numbers each cites (numbers out of range are dropped)."""
    for lead in (INTRO, WEAK_MATCH):
        if answer.startswith(lead):
            answer = answer[len(lead):]
    claims: list[Claim] = []
    table: list[str] = []

    def add(text: str) -> None:
        cited = tuple(sorted(cited_numbers(text, source_count)))
        words = _CITATION.sub("", text).strip()
        if words.endswith(":") or len(content_words(words)) < MIN_WORDS:
            return
        claims.append(Claim(words, cited))

    lines = answer.splitlines()
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("|"):
            table.append(stripped)
            continue
        if table:
            if not stripped:
                continue  # a blank line may stand between a table and its citation
            # a citation alone on the first line after a table is the table's
            if _CITATION.fullmatch(stripped):
                table.append(stripped)
                add(" ".join(table))
                table = []
                continue
            add(" ".join(table))
            table = []
        stripped = _ITEM.sub("", stripped.lstrip("> ").strip())
        if not stripped or stripped.startswith("#"):
            continue
        if _ITEM.match(line):
            add(stripped)  # a list item is one claim, whatever its punctuation
        else:
            for sentence in _SENTENCE_END.split(stripped):
                add(sentence)
    if table:
        add(" ".join(table))
    return claims


def overlap_supports(claim: str, passage: str) -> bool:
    words = content_words(claim)
    if not words:
        return False
    present = set(content_words(passage))
    return sum(w in present for w in words) / len(words) >= OVERLAP


def citation_support(answer: str, sources: Sequence, judge=None) -> Faithfulness:
    """Check every claim of ``answer`` against the sources it cites (``sources[n-1]`` for ``[n]``;
    hits with ``.text``). ``judge``: a ``Judge`` whose yes/no decides; None: word overlap."""
    result = Faithfulness(claims_of(answer, len(sources)), "judge" if judge is not None else "overlap")
    for claim in result.claims:
        if not claim.cited:
            continue
        verdicts = []
        for number in claim.cited:
            passage = sources[number - 1].text
            if judge is not None:
                verdict = judge.supports(claim.text, passage)
                # a judge that failed or gave no yes/no: the offline rule decides this one
                verdicts.append(overlap_supports(claim.text, passage) if verdict is None else verdict)
            else:
                verdicts.append(overlap_supports(claim.text, passage))
            if verdicts[-1]:
                break
        claim.supported = any(verdicts)
    return result
