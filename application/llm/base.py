"""What every LLM backend implements, and the errors it may raise."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator

from application.errors import DocsTuneError


#: the failures worth another try (a judge call, a batch of synthetic questions); the others will fail again
RETRYABLE_KINDS = ("rate_limit", "timeout", "unavailable")


class LLMError(DocsTuneError):
    """The LLM failed; ``message`` says what happened and what to do next."""

    status_code = 502

    def __init__(self, message: str, kind: str = "error", status_code: int | None = None):
        super().__init__(message, status_code)
        #: auth | rate_limit | timeout | unavailable | bad_request | error
        self.kind = kind


@dataclass
class Prompt:
    """A rendered prompt: what a chat LLM reads (``system`` + ``messages``) and
    what an LLM-free answerer needs (the question and the retrieved hits)."""

    system: str
    messages: list[dict]  # [{"role": "user"|"assistant", "content": str}], ends with the question
    question: str
    sources: list = field(default_factory=list)  # SearchHit, numbered from 1 in this order


class LLM(ABC):
    """A streaming answerer. ``stream`` yields pieces of text as they are produced."""

    #: stored with every message, e.g. ``anthropic/claude-sonnet-5-5``
    name: str

    @abstractmethod
    def stream(self, prompt: Prompt, usage: dict | None = None) -> Iterator[str]:
        """Yield the answer piece by piece; raise :class:`LLMError` on failure. ``usage``, when given, is
        filled with the provider's ``input_tokens`` and ``output_tokens`` once it reports them."""

    def complete(self, prompt: Prompt, usage: dict | None = None) -> str:
        return "".join(self.stream(prompt, usage))
