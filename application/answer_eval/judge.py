"""The LLM judge: a score from 0 to 1 with a one-line reason for an answer against a reference, and a
yes/no on whether a passage supports a cited sentence.

Any LLM backend of ``application.llm`` judges (Claude through the ``anthropic`` SDK, or an
OpenAI-compatible server), at temperature 0, with the prompts in ``application/prompts/judge*.txt``.
Every reply is cached by the hash of what was asked (the judge's name, the prompt, the filled-in
text), so a re-run of the same evaluation makes no call. A reply that is not a score leaves the
question *unjudged* with the reason; a rate limit or a timeout is retried (``JUDGE_RETRIES``,
waiting ``JUDGE_RETRY_SECONDS``, doubling) and then reported the same way.

Example::

    judge = create_judge(settings, cache_dir=settings.data_dir / "judge_cache")
    verdict = judge.score("How do refunds work?", reference, answer)
    verdict.score, verdict.reason     # 0.75, "Gives the 30-day window but not the fee."
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

from application.llm import configured_llm_provider, create_llm
from application.llm.base import LLM, RETRYABLE_KINDS, LLMError, Prompt
from application.llm.prompt import prompt_sections
from training.files import atomic_write_text

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parent.parent / "prompts"
SCORE_PROMPT = PROMPTS / "judge.txt"
SUPPORT_PROMPT = PROMPTS / "judge_support.txt"
NO_JUDGE = ("No judge: set ANTHROPIC_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible server) to get judge "
            "scores; reporting similarity, faithfulness, latency and cost.")

_SCORE_LINE = re.compile(r"score\s*[:=]\s*\**\s*(-?\d+(?:\.\d+)?)(\s*/\s*\d+)?", re.IGNORECASE)
_REASON_LINE = re.compile(r"reason\s*[:=]\s*(.+)", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass
class Verdict:
    """A judge's score (None: unjudged) and its reason (or why there is no score)."""

    score: float | None
    reason: str
    cached: bool = False
    calls: int = 0  # judge calls this verdict cost (0 when it came from the cache)


def parse_score(reply: str) -> tuple[float | None, str]:
    """(score, reason) from a judge's reply; (None, why) when the reply holds no score from 0 to 1.

    Takes ``SCORE: 0.8`` / ``REASON: ...`` lines (the prompt asks for them), a JSON object with
    ``score`` and ``reason``, or a bare number.
    """
    text = reply.strip()
    score = reason = None
    try:
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("score"), (int, float)) and not isinstance(data["score"], bool):
            score, reason = float(data["score"]), str(data.get("reason") or "")
    except ValueError:
        pass
    if score is None:
        match = _SCORE_LINE.search(text) or _BARE_NUMBER.match(text)
        if match:
            score = float(match.group(1))
            if match.lastindex and match.lastindex >= 2 and match.group(2):  # "8/10"
                score /= float(match.group(2).split("/")[1])
        found = _REASON_LINE.search(text)
        reason = found.group(1).strip() if found else ""
    shown = " ".join(text.split())[:120]
    if score is None:
        return None, f"the judge's reply holds no score: {shown!r}"
    if not 0 <= score <= 1:
        return None, f"the judge's score {score:g} is not from 0 to 1: {shown!r}"
    return score, (reason or "(no reason given)").splitlines()[0][:300]


def parse_support(reply: str) -> bool | None:
    word = reply.strip().split()[0].strip(".,!:*").lower() if reply.strip() else ""
    return {"yes": True, "no": False}.get(word)


class Judge:
    """Scores answers with ``llm`` (built at temperature 0); ``cache_dir`` keeps every reply."""

    def __init__(self, llm: LLM, cache_dir: str | Path, *, retries: int = 2, retry_seconds: float = 5.0,
                 score_prompt: Path = SCORE_PROMPT, support_prompt: Path = SUPPORT_PROMPT):
        self.llm = llm
        self.name = llm.name
        self.cache_dir = Path(cache_dir)
        self.retries = retries
        self.retry_seconds = retry_seconds
        self._score = _read_prompt(score_prompt)
        self._support = _read_prompt(support_prompt)
        self.calls = 0

    def score(self, question: str, reference: str, answer: str) -> Verdict:
        """How well ``answer`` gives the facts of ``reference`` (0-1), with the reason."""
        reply, cached, error = self._ask(self._score, {"question": question, "reference": reference or "(none)",
                                                       "answer": answer})
        if reply is None:
            return Verdict(None, error, cached)
        score, reason = parse_score(reply)
        return Verdict(score, reason, cached, 0 if cached else 1)

    def supports(self, sentence: str, passage: str) -> bool | None:
        """Whether ``passage`` supports ``sentence`` (None: the judge failed or gave no yes/no)."""
        reply, _, _ = self._ask(self._support, {"sentence": sentence, "passage": passage})
        return None if reply is None else parse_support(reply)

    # -- one call, cached ---------------------------------------------------------------
    def _ask(self, prompt: tuple[str, str], values: dict[str, str]) -> tuple[str | None, bool, str]:
        """(reply or None, whether it came from the cache, why there is none)."""
        system, user = (_fill(part, values) for part in prompt)
        key = hashlib.sha256(json.dumps([self.name, system, user]).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))["reply"], True, ""
        except (OSError, ValueError, KeyError):
            pass
        request = Prompt(system=system, messages=[{"role": "user", "content": user}], question=user)
        wait = self.retry_seconds
        for attempt in range(self.retries + 1):
            try:
                self.calls += 1
                reply = self.llm.complete(request)
                break
            except LLMError as exc:
                if exc.kind not in RETRYABLE_KINDS or attempt == self.retries:
                    tries = f" (after {attempt + 1} tries)" if attempt else ""
                    return None, False, f"the judge failed{tries}: {exc.message}"
                log.info("The judge failed (%s); retrying in %.1f s", exc.kind, wait)
                time.sleep(wait)
                wait *= 2
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"judge": self.name, "reply": reply}))
        return reply, False, ""


def _read_prompt(path: Path) -> tuple[str, str]:
    sections = prompt_sections(path.read_text(encoding="utf-8"))
    return sections["system"], sections["user"]


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():  # plain replace: answers and documents may hold braces
        text = text.replace("{" + name + "}", value)
    return text


def judge_llm(settings, choice: str | None = None) -> tuple[LLM | None, str | None]:
    """The judge's LLM for ``choice`` (``auto``, ``none``, ``anthropic[:MODEL]``, ``openai_compatible[:MODEL]``;
    default: ``JUDGE_PROVIDER``), or (None, the one line saying why there is none)."""
    choice = choice or settings.judge_provider
    provider, _, model = choice.partition(":")
    if provider == "none":
        return None, "No judge (--judge none); reporting similarity, faithfulness, latency and cost."
    if provider == "auto":
        provider = configured_llm_provider(settings)
        if provider is None:
            return None, NO_JUDGE
    if provider in ("anthropic", "openai_compatible"):

        return create_llm(settings, provider=provider, model=model or settings.judge_model, max_tokens=200,
                          temperature=0.0), None
    raise LLMError(f"Unknown judge {choice!r}: use auto, none, anthropic[:MODEL] or openai_compatible[:MODEL].",
                   "bad_request", 400)


def create_judge(settings, cache_dir: str | Path | None = None, choice: str | None = None) -> tuple[Judge | None, str | None]:
    """(the judge ``choice`` asks for, or None and the one line saying why there is none)."""
    llm, note = judge_llm(settings, choice)
    if llm is None:
        return None, note
    return Judge(llm, cache_dir or settings.data_dir / "judge_cache", retries=settings.judge_retries,
                 retry_seconds=settings.judge_retry_seconds), None
