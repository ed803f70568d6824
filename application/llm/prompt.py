"""The one prompt template: a system prompt with the numbered sources, the
earlier turns, then the question. An admin overrides it with ``PROMPT_FILE``."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from application.errors import ServiceUnavailable
from application.ingest.documents import heading_path
from application.llm.base import Prompt

DEFAULT_PROMPT_FILE = Path(__file__).resolve().parent.parent / "prompts" / "answer.txt"
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)
NO_SOURCES = "(No source matched this question.)"
_CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass(frozen=True)
class PromptTemplate:
    system: str
    user: str
    path: str = "<string>"

    @classmethod
    def parse(cls, text: str, path: str = "<string>") -> "PromptTemplate":
        sections = prompt_sections(text)
        if set(sections) != {"system", "user"} or "{question}" not in sections["user"] + sections["system"]:
            raise ServiceUnavailable(
                f"Prompt template {path} is not valid: it needs a [system] and a [user] section and the "
                f"{{question}} placeholder (see application/prompts/answer.txt)."
            )
        return cls(sections["system"], sections["user"], path)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PromptTemplate":
        path = Path(path) if path else DEFAULT_PROMPT_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ServiceUnavailable(f"Cannot read the prompt template {path} ({exc.strerror}); check PROMPT_FILE.") from exc
        return cls.parse(text, str(path))

    def render(self, question: str, sources: Sequence, history: Sequence[tuple[str, str]] = ()) -> Prompt:
        """``sources`` are SearchHits, numbered [1]..[n]; ``history`` is (question, answer) pairs, oldest first."""
        sources_text = format_sources(sources)

        def fill(section: str) -> str:
            # plain replace, not str.format: document text may hold braces
            return section.replace("{sources}", sources_text).replace("{question}", question)

        messages: list[dict] = []
        for past_question, past_answer in history:
            messages.append({"role": "user", "content": past_question})
            messages.append({"role": "assistant", "content": past_answer})
        messages.append({"role": "user", "content": fill(self.user)})
        return Prompt(system=fill(self.system), messages=messages, question=question, sources=list(sources))


def prompt_sections(text: str) -> dict[str, str]:
    """The ``[system]`` and ``[user]`` sections of a prompt file, by name."""
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}


def format_sources(sources: Sequence) -> str:
    if not sources:
        return NO_SOURCES
    blocks = []
    for n, hit in enumerate(sources, start=1):
        title = heading_path(hit.title or hit.uri or "untitled", getattr(hit, "headings", None) or ())
        where = [f"page {hit.page}"] if getattr(hit, "page", None) is not None else []
        where += [hit.location] if getattr(hit, "location", None) else []
        place = f" ({', '.join(where)})" if where else ""
        blocks.append(f"[{n}] {title}{place}\n{hit.text.strip()}")
    return "\n\n".join(blocks)


def strip_citations(answer: str) -> str:
    """``answer`` without its ``[n]`` / ``[n, m]`` source markers (and the spaces before them): the text
    a reference answer keeps, since another answer numbers its sources its own way."""
    return re.sub(r"[ \t]*" + _CITATION.pattern, "", answer).strip()


def cited_numbers(answer: str, source_count: int) -> set[int]:
    """The source numbers an answer cites as ``[n]`` or ``[n, m]``; numbers out of range are ignored."""
    found = set()
    for group in _CITATION.findall(answer):
        for number in group.split(","):
            n = int(number)
            if 1 <= n <= source_count:
                found.add(n)
    return found
