"""Synthetic queries: questions that a chunk answers, so training can start with no labels.

Two generators produce the same record, :class:`~training.records.SyntheticQuery`:

* :class:`ClaudeQuestionGenerator` — with an Anthropic API key, Claude writes ``n``
  questions per chunk from the prompt in ``training/prompts/synthetic_queries.txt``.
  Answers are cached on disk by a hash of (model, prompt, n, chunk text), so a re-run
  costs nothing. ``base_url`` (ANTHROPIC_BASE_URL) points it at a proxy or a test server.
* :class:`InverseClozeGenerator` — offline, no key, no GPU: the **Inverse Cloze Task**
  (Lee, Chang & Toutanova, ACL 2019, "Latent Retrieval for Weakly Supervised Open Domain
  Question Answering"). A sentence of the chunk is the pseudo-query and the rest of the
  chunk is its positive; as in the paper the sentence is removed from the chunk 90 % of
  the time, so the model must learn the topic, not the exact words. Chunks with a single
  sentence fall back to a random word span (random cropping, as in Contriever).

Example::

    from training.synthetic import generate_synthetic_queries
    chunks = {"c1": "Refunds are paid within 14 days. Ask support for a refund form."}
    queries = generate_synthetic_queries(chunks, questions_per_chunk=1)   # offline: no key
    queries[0].question, queries[0].method
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
from pathlib import Path

from tqdm.auto import tqdm

from training.files import atomic_write_text
from training.records import IRDataset, SyntheticQuery, TrainingDataError, TrainingSet

PROMPT_PATH = Path(__file__).parent / "prompts" / "synthetic_queries.txt"
DEFAULT_CLAUDE_MODEL = "claude-haiku-4-5"

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


def parse_questions(text: str, limit: int) -> list[str]:
    """Questions from Claude's reply: one per line, numbering and bullets removed."""
    questions = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[-*•]|\d+[.)]|Q\d*[:.])\s*", "", line).strip().strip('"')
        if len(line.split()) >= 2 and line not in questions:
            questions.append(line)
    return questions[:limit]


class ClaudeQuestionGenerator:
    """Claude writes ``questions_per_chunk`` questions per chunk; answers are cached on disk.

    Uses the official ``anthropic`` SDK, so ``base_url`` may point at any server that
    speaks the Messages API.
    """

    method = "claude"

    def __init__(self, api_key: str, *, model: str = DEFAULT_CLAUDE_MODEL, base_url: str | None = None,
                 cache_dir: str | os.PathLike, questions_per_chunk: int = 2,
                 prompt_path: str | os.PathLike = PROMPT_PATH, max_tokens: int = 600, timeout: float = 60.0):
        import anthropic

        self.client = anthropic.Anthropic(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=2)
        self.model = model
        self.cache_dir = Path(cache_dir)
        self.questions_per_chunk = questions_per_chunk
        self.prompt = Path(prompt_path).read_text(encoding="utf-8")
        self.max_tokens = max_tokens
        self.api_calls = 0

    def cache_key(self, text: str) -> str:
        material = json.dumps([self.model, self.prompt, self.questions_per_chunk, text])
        return hashlib.sha256(material.encode()).hexdigest()

    def questions_for(self, chunk_id: str, text: str) -> list[SyntheticQuery]:
        import anthropic

        cache_file = self.cache_dir / f"{self.cache_key(text)}.json"
        if cache_file.is_file():
            questions = json.loads(cache_file.read_text(encoding="utf-8"))["questions"]
        else:
            prompt = self.prompt.replace("{n}", str(self.questions_per_chunk)).replace("{chunk}", text)
            try:
                reply = self.client.messages.create(
                    model=self.model,
                    max_tokens=self.max_tokens,
                    messages=[{"role": "user", "content": prompt}],
                )
            except anthropic.APIError as exc:
                raise TrainingDataError(f"Claude could not write questions for chunk {chunk_id}: {exc}") from exc
            self.api_calls += 1
            answer = "".join(block.text for block in reply.content if getattr(block, "type", "") == "text")
            questions = parse_questions(answer, self.questions_per_chunk)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(cache_file, json.dumps({"model": self.model, "questions": questions}))
        return [SyntheticQuery(chunk_id, q, self.method) for q in questions]

    def generate(self, chunks: dict[str, str], show_progress: bool = True) -> list[SyntheticQuery]:
        out = []
        for cid, text in tqdm(chunks.items(), desc="Claude questions", disable=not show_progress):
            out.extend(self.questions_for(cid, text))
        return out


def generate_synthetic_queries(
    chunks: dict[str, str],
    *,
    questions_per_chunk: int = 2,
    api_key: str | None = None,
    model: str = DEFAULT_CLAUDE_MODEL,
    base_url: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    seed: int = 42,
    show_progress: bool = True,
) -> list[SyntheticQuery]:
    """Claude when ``api_key`` is given, the offline inverse cloze task otherwise."""
    if not chunks:
        raise TrainingDataError("the corpus has no chunks to write questions for")
    if api_key:
        if cache_dir is None:
            raise TrainingDataError("a cache folder is needed for Claude's questions")
        generator = ClaudeQuestionGenerator(
            api_key, model=model, base_url=base_url, cache_dir=cache_dir, questions_per_chunk=questions_per_chunk
        )
    else:
        generator = InverseClozeGenerator(questions_per_chunk, seed=seed)
    queries = generator.generate(chunks, show_progress=show_progress)
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
