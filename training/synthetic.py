"""Synthetic queries: questions that a chunk answers, so training can start with no labels.

Two generators produce the same record, :class:`~training.records.SyntheticQuery`:

* :class:`LLMQuestionGenerator` — any LLM (Claude, or an OpenAI-compatible server: llama.cpp,
  Ollama, vLLM) writes ``n`` questions per chunk from the prompt in
  ``training/prompts/synthetic_queries.txt``, several numbered chunks per request and a few
  requests at a time. Each chunk's questions are cached on disk by a hash of (LLM, prompt, n,
  chunk text), so a re-run or the next retrain costs nothing for the chunks already done.
  The LLM comes in as a :class:`QuestionLLM` (a name and one ``complete`` call): the
  application passes its configured backend, so this package talks to no server itself.
* :class:`InverseClozeGenerator` — offline, no key, no GPU: the **Inverse Cloze Task**
  (Lee, Chang & Toutanova, ACL 2019, "Latent Retrieval for Weakly Supervised Open Domain
  Question Answering"). A sentence of the chunk is the pseudo-query and the rest of the
  chunk is its positive; as in the paper the sentence is removed from the chunk 90 % of
  the time, so the model must learn the topic, not the exact words. Chunks with a single
  sentence fall back to a random word span (random cropping, as in Contriever). It is also
  what a chunk gets when the LLM's reply holds no questions for it.

Example::

    from training.synthetic import generate_synthetic_queries
    chunks = {"c1": "Refunds are paid within 14 days. Ask support for a refund form."}
    queries = generate_synthetic_queries(chunks, questions_per_chunk=1)   # offline: no LLM
    queries[0].question, queries[0].method
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

from tqdm.auto import tqdm

from training.files import atomic_write_text
from training.records import IRDataset, SyntheticQuery, TrainingDataError, TrainingSet

log = logging.getLogger(__name__)

PROMPT_PATH = Path(__file__).parent / "prompts" / "synthetic_queries.txt"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(re.sub(r"\s+", " ", text).strip()) if s.strip()]


class InverseClozeGenerator:
    """Offline pseudo-queries by the Inverse Cloze Task (see module doc).

    Each chunk gets its own random stream (seeded by ``seed`` and the chunk id), so a
    chunk's queries do not change when other chunks are added.
    """

    method = "inverse_cloze"

    def __init__(self, questions_per_chunk: int = 2, *, seed: int = 42, remove_probability: float = 0.9,
                 min_words: int = 5, max_words: int = 48):
        self.questions_per_chunk = questions_per_chunk
        self.seed = seed
        self.remove_probability = remove_probability
        self.min_words = min_words
        self.max_words = max_words

    def questions_for(self, chunk_id: str, text: str) -> list[SyntheticQuery]:
        rng = random.Random(f"{self.seed}:{chunk_id}")
        sentences = split_sentences(text)
        candidates = [i for i, s in enumerate(sentences) if len(s.split()) >= self.min_words]
        out = []
        if len(sentences) >= 2 and candidates:
            for i in rng.sample(candidates, min(self.questions_per_chunk, len(candidates))):
                query = " ".join(sentences[i].split()[: self.max_words])
                keep = sentences if rng.random() >= self.remove_probability else sentences[:i] + sentences[i + 1 :]
                out.append(SyntheticQuery(chunk_id, query, self.method, " ".join(keep)))
            return out
        words = text.split()
        if len(words) < 2 * self.min_words:
            return []
        for _ in range(self.questions_per_chunk):  # one long sentence: crop a span instead
            length = rng.randint(self.min_words, max(self.min_words, min(self.max_words, len(words) // 3)))
            start = rng.randrange(0, len(words) - length + 1)
            query = " ".join(words[start : start + length])
            rest = words if rng.random() >= self.remove_probability else words[:start] + words[start + length :]
            out.append(SyntheticQuery(chunk_id, query, self.method, " ".join(rest)))
        return out

    def generate(self, chunks: dict[str, str], show_progress: bool = True) -> list[SyntheticQuery]:
        out = []
        for cid, text in tqdm(chunks.items(), desc="Inverse cloze queries", disable=not show_progress):
            out.extend(self.questions_for(cid, text))
        return out


# -- questions written by an LLM -------------------------------------------------------------
#: a question of at most 30 words (the prompt's rule) is ~20-30 tokens; the estimate takes the top
TOKENS_PER_QUESTION = 30
#: until a run has measured this LLM: ~2 s to the first word, then ~40 words a second
ASSUMED_SECONDS_PER_REQUEST = 2.0
ASSUMED_OUTPUT_TOKENS_PER_SECOND = 40.0
RATES_FILE = "rates.json"  # in the cache folder: seconds per output token measured per LLM

_PASSAGE_HEADER = re.compile(r"^\W*(?:(?:passage|chunk)\s*#?\s*(\d+)|\[(\d+)\])\W*$", re.IGNORECASE)


class QuestionLLMError(Exception):
    """What a :class:`QuestionLLM` raises when its LLM fails; ``retryable`` when waiting may help
    (a rate limit, a timeout, a server that is down for a moment)."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class QuestionLLM(Protocol):
    """The one thing the generator needs of an LLM. The application passes its configured backend
    (``application/llm/question_writer.py``), so the training package holds no HTTP client of its own."""

    #: e.g. ``openai_compatible/llama3.1``: part of the cache key, and how its price is found
    name: str

    def complete(self, system: str, user: str, usage: dict) -> str:
        """The reply to one request; fills ``usage`` with ``input_tokens`` / ``output_tokens`` when the
        provider reports them; raises :class:`QuestionLLMError`."""


def parse_questions(text: str, limit: int) -> list[str]:
    """Questions from an LLM's reply: one per line, numbering and bullets removed."""
    questions = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|Q\d*[:.])\s*", "", line).strip().strip('"')
        if len(line.split()) >= 2 and line not in questions:
            questions.append(line)
    return questions[:limit]


def parse_batch_reply(text: str, count: int, limit: int) -> dict[int, list[str]]:
    """{passage number (from 1): its questions} from a reply to ``count`` numbered passages; a passage
    with no questions is left out. A one-passage reply with no ``Passage 1:`` line is all that passage's."""
    sections: dict[int, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = _PASSAGE_HEADER.match(line)
        if header:
            current = int(header.group(1) or header.group(2))
            sections.setdefault(current, [])
        elif current is not None:
            sections[current].append(line)
    if not sections and count == 1:
        sections = {1: text.splitlines()}
    found = {number: parse_questions("\n".join(lines), limit) for number, lines in sections.items()
             if 1 <= number <= count}
    return {number: questions for number, questions in found.items() if questions}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)  # ~4 characters a token for English (OpenAI's rule of thumb)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{max(1, round(seconds))} s"


@dataclass
class SynthEstimate:
    """What a run will cost, before it starts: only the chunks that are not cached are asked."""

    llm: str
    chunks: int
    cached: int
    requests: int
    input_tokens: int
    output_tokens: int
    usd: float | None  # None: the LLM's price is unknown (LLM_PRICES)
    seconds: float
    measured_rate: bool  # the time is at the rate measured by this LLM's last run (else assumed)

    @property
    def to_write(self) -> int:
        return self.chunks - self.cached

    def describe(self) -> str:
        if not self.to_write:
            return f"{self.llm}: all {self.chunks} chunks are cached, no request to make"
        if self.usd is None:
            cost = "cost unknown (add the LLM to LLM_PRICES)"
        else:
            cost = f"~${self.usd:.2f}" if self.usd >= 0.01 or self.usd == 0 else f"~${self.usd:.4f}"
        rate = "measured" if self.measured_rate else "assumed"
        return (f"{self.llm}: {self.to_write} chunks to write ({self.cached} cached) in {self.requests} requests, "
                f"~{self.input_tokens:,} input + {self.output_tokens:,} output tokens, {cost}, "
                f"~{_duration(self.seconds)} at the {rate} rate")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SynthReport:
    """What a run did: the chunks written, cached and left to inverse cloze, and what it cost."""

    llm: str
    chunks: int = 0
    written: int = 0  # chunks the LLM wrote questions for in this run
    cached: int = 0
    asked_again: int = 0  # chunks missing from a batch's reply, asked again alone
    fallback: int = 0  # chunks the LLM gave no questions for: inverse cloze instead
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0
    request_seconds: float = 0.0  # summed over the requests (they overlap)

    def describe(self) -> str:
        fallback = f", {self.fallback} by inverse cloze (the LLM gave no questions)" if self.fallback else ""
        again = f", {self.asked_again} asked again alone" if self.asked_again else ""
        return (f"{self.llm}: {self.written} chunks written in {self.requests} requests ({self.retries} retries"
                f"{again}), {self.cached} from the cache{fallback}; {self.input_tokens:,} input + "
                f"{self.output_tokens:,} output tokens in {_duration(self.seconds)}")

    def to_dict(self) -> dict:
        return asdict(self)


class LLMQuestionGenerator:
    """An LLM writes ``questions_per_chunk`` questions per chunk, ``batch_size`` numbered chunks per request,
    ``concurrency`` requests at a time; each chunk's questions are cached on their own (by the hash of the
    LLM's name, the prompt, the count and the chunk's text), so batching does not change what a re-run finds.

    A chunk missing from a batch's reply is asked again alone; one still without questions falls back to
    inverse cloze (counted in ``report.fallback``). A rate limit or timeout is retried ``retries`` times,
    waiting ``retry_seconds`` and doubling; then the run stops with a :class:`TrainingDataError` (what was
    written so far stays cached).

    Example::

        generator = LLMQuestionGenerator(llm, cache_dir="synthetic_cache", price=(1.0, 5.0))
        print(generator.estimate(chunks).describe())
        queries = generator.generate(chunks)
        print(generator.report.describe())
    """

    method = "llm"

    def __init__(self, llm: QuestionLLM, *, cache_dir: str | os.PathLike, questions_per_chunk: int = 2,
                 batch_size: int = 8, concurrency: int = 4, retries: int = 2, retry_seconds: float = 2.0,
                 price: tuple[float, float] | None = None, prompt_path: str | os.PathLike = PROMPT_PATH,
                 seed: int = 42):
        if batch_size < 1 or concurrency < 1 or questions_per_chunk < 1:
            raise TrainingDataError("batch size, concurrency and questions per chunk must be at least 1")
        self.llm = llm
        self.cache_dir = Path(cache_dir)
        self.questions_per_chunk = questions_per_chunk
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.retries = retries
        self.retry_seconds = retry_seconds
        self.price = price
        self.system, self.template = _prompt_sections(Path(prompt_path).read_text(encoding="utf-8"))
        self.fallback = InverseClozeGenerator(questions_per_chunk, seed=seed)
        self.report = SynthReport(llm.name)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    # -- the cache, one file per chunk ---------------------------------------------------------
    def cache_key(self, text: str) -> str:
        material = json.dumps([self.llm.name, self.system, self.template, self.questions_per_chunk, text])
        return hashlib.sha256(material.encode()).hexdigest()

    def cached_questions(self, text: str) -> list[str] | None:
        try:
            return json.loads((self.cache_dir / f"{self.cache_key(text)}.json").read_text(encoding="utf-8"))["questions"]
        except (OSError, ValueError, KeyError):
            return None

    def _store(self, text: str, questions: list[str]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.cache_dir / f"{self.cache_key(text)}.json",
                          json.dumps({"llm": self.llm.name, "questions": questions}))

    # -- the estimate --------------------------------------------------------------------------
    def render(self, texts: list[str]) -> str:
        """The user message asking for the questions of ``texts``, numbered from 1."""
        passages = "\n\n".join(f'<passage number="{i}">\n{text.strip()}\n</passage>' for i, text in enumerate(texts, 1))
        filled = self.template.replace("{count}", str(len(texts))).replace("{n}", str(self.questions_per_chunk))
        return filled.replace("{passages}", passages)  # last: a chunk may hold "{n}"

    def _batches(self, items: list) -> list[list]:
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def estimate(self, chunks: dict[str, str]) -> SynthEstimate:
        to_write = [text for text in chunks.values() if self.cached_questions(text) is None]
        batches = self._batches(to_write)
        input_tokens = sum(_tokens(self.system) + _tokens(self.render(batch)) for batch in batches)
        # per passage: its questions and its "Passage i:" line
        output_tokens = len(to_write) * (self.questions_per_chunk * TOKENS_PER_QUESTION + 4)
        usd = None if self.price is None else (input_tokens * self.price[0] + output_tokens * self.price[1]) / 1e6
        seconds_per_token = self._measured_rate()
        per_request = output_tokens / max(1, len(batches))
        if seconds_per_token is None:
            request_seconds = ASSUMED_SECONDS_PER_REQUEST + per_request / ASSUMED_OUTPUT_TOKENS_PER_SECOND
        else:
            request_seconds = per_request * seconds_per_token
        waves = -(-len(batches) // self.concurrency)
        return SynthEstimate(self.llm.name, len(chunks), len(chunks) - len(to_write), len(batches), input_tokens,
                             output_tokens, usd, waves * request_seconds, seconds_per_token is not None)

    def _measured_rate(self) -> float | None:
        try:
            return float(json.loads((self.cache_dir / RATES_FILE).read_text(encoding="utf-8"))[self.llm.name])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _save_rate(self) -> None:
        report = self.report
        if not report.requests or not report.output_tokens:
            return
        try:
            rates = json.loads((self.cache_dir / RATES_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rates = {}
        rates[self.llm.name] = report.request_seconds / report.output_tokens
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.cache_dir / RATES_FILE, json.dumps(rates, indent=1))

    # -- the run -------------------------------------------------------------------------------
    def generate(self, chunks: dict[str, str], show_progress: bool = True) -> list[SyntheticQuery]:
        report = self.report = SynthReport(self.llm.name, chunks=len(chunks))
        self._stop.clear()
        started = time.monotonic()
        written: dict[str, list[str]] = {}
        to_write = []
        for cid, text in chunks.items():
            questions = self.cached_questions(text)
            if questions is None:
                to_write.append(cid)
            else:
                written[cid] = questions
                report.cached += 1
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="synthetic-questions")
        try:
            with tqdm(total=len(to_write), desc=f"Questions by {self.llm.name}", disable=not show_progress) as bar:
                futures = [pool.submit(self._write_batch, {cid: chunks[cid] for cid in batch})
                           for batch in self._batches(to_write)]
                for future in as_completed(futures):
                    done = future.result()
                    written.update(done)
                    report.written += len(done)
                    bar.update(len(done))
        except BaseException:
            self._stop.set()  # the other requests give up instead of retrying
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            report.seconds = time.monotonic() - started
        self._save_rate()
        out = []
        for cid, text in chunks.items():
            if written.get(cid):
                out.extend(SyntheticQuery(cid, question, self.method) for question in written[cid])
            else:
                report.fallback += 1
                out.extend(self.fallback.questions_for(cid, text))
        return out

    def _write_batch(self, batch: dict[str, str]) -> dict[str, list[str]]:
        """{chunk id: questions} of one batch; each chunk's questions are cached as soon as they come."""
        replies = self._ask(list(batch.values()))
        written = {}
        for number, (cid, text) in enumerate(batch.items(), 1):
            questions = replies.get(number)
            if not questions and len(batch) > 1:
                with self._lock:
                    self.report.asked_again += 1
                questions = self._ask([text]).get(1)
            if questions:
                self._store(text, questions)
                written[cid] = questions
        return written

    def _ask(self, texts: list[str]) -> dict[int, list[str]]:
        user = self.render(texts)
        wait = self.retry_seconds
        for attempt in range(self.retries + 1):
            if self._stop.is_set():
                raise TrainingDataError("stopped: another request failed")
            usage: dict = {}
            started = time.monotonic()
            try:
                reply = self.llm.complete(self.system, user, usage)
            except QuestionLLMError as exc:
                with self._lock:
                    self.report.requests += 1
                if not exc.retryable or attempt == self.retries:
                    tries = f" (after {attempt + 1} tries)" if attempt else ""
                    raise TrainingDataError(
                        f"{self.llm.name} could not write questions{tries}: {exc.message.rstrip('.')}. "
                        "The questions written so far are cached: run again to go on.") from exc
                with self._lock:
                    self.report.retries += 1
                log.info("%s failed (%s); retrying in %.1f s", self.llm.name, exc.message, wait)
                self._stop.wait(wait)
                wait *= 2
                continue
            with self._lock:
                report = self.report
                report.requests += 1
                report.request_seconds += time.monotonic() - started
                report.input_tokens += usage.get("input_tokens") or _tokens(self.system) + _tokens(user)
                report.output_tokens += usage.get("output_tokens") or _tokens(reply)
            return parse_batch_reply(reply, len(texts), self.questions_per_chunk)
        raise AssertionError("unreachable")  # the last attempt returns or raises


def _prompt_sections(text: str) -> tuple[str, str]:
    """(system, user) of a prompt file with ``[system]`` and ``[user]`` sections (no sections: all user)."""
    system, marker, user = text.partition("[user]")
    if not marker:
        return "", text.strip()
    return system.replace("[system]", "", 1).strip(), user.strip()


def generate_synthetic_queries(
    chunks: dict[str, str],
    *,
    questions_per_chunk: int = 2,
    llm: QuestionLLM | None = None,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    concurrency: int = 4,
    retries: int = 2,
    retry_seconds: float = 2.0,
    price: tuple[float, float] | None = None,
    seed: int = 42,
    show_progress: bool = True,
    announce: Callable[[SynthEstimate | SynthReport], None] | None = None,
) -> list[SyntheticQuery]:
    """The LLM's questions when ``llm`` is given (:class:`LLMQuestionGenerator`), the offline inverse cloze
    task otherwise. ``announce`` hears the :class:`SynthEstimate` before the first request and the
    :class:`SynthReport` at the end."""
    if not chunks:
        raise TrainingDataError("the corpus has no chunks to write questions for")
    if llm is not None:
        if cache_dir is None:
            raise TrainingDataError("a cache folder is needed for the LLM's questions")
        generator = LLMQuestionGenerator(llm, cache_dir=cache_dir, questions_per_chunk=questions_per_chunk,
                                         batch_size=batch_size, concurrency=concurrency, retries=retries,
                                         retry_seconds=retry_seconds, price=price, seed=seed)
        if announce:
            announce(generator.estimate(chunks))
        queries = generator.generate(chunks, show_progress=show_progress)
        if announce:
            announce(generator.report)
    else:
        queries = InverseClozeGenerator(questions_per_chunk, seed=seed).generate(chunks, show_progress=show_progress)
    if not queries:
        raise TrainingDataError("no synthetic query could be made: the chunks are too short")
    return queries

def synthetic_ir_dataset(chunks: dict[str, str], queries: list[SyntheticQuery]) -> IRDataset:
    """IR JSON of the generated questions against the whole corpus (``docstune synth --out``)."""
    ir = IRDataset({}, dict(chunks), {})
    for i, q in enumerate(queries):
        qid = f"syn{i}"
        ir.queries[qid] = q.question
        ir.relevant_docs[qid] = [q.chunk_id]
    return ir


def synthetic_training_set(chunks: dict[str, str], queries: list[SyntheticQuery]) -> TrainingSet:
    """``(question, chunk)`` positives (the ICT context where there is one) for MultipleNegativesRankingLoss."""
    return TrainingSet(positives=[(q.question, q.context or chunks[q.chunk_id]) for q in queries])
