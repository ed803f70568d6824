"""The plain records that flow through ``training/``: no Flask, no SQL, no model.

Everything the package reads is turned into these dataclasses first, and every
step after that (splitting, mining, fine-tuning, evaluation) works on them.

Example::

    from training.records import IRDataset, LabelledPair
    ir = IRDataset(queries={"q1": "How do refunds work?"},
                   corpus={"c1": "Refunds are paid within 14 days."},
                   relevant_docs={"q1": ["c1"]})
    ir.validate()
    LabelledPair("How do refunds work?", "c1", "Refunds are paid within 14 days.", 1)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Verdict = Literal["like", "dislike"]
SourceMark = Literal["relevant", "irrelevant"]


class TrainingDataError(ValueError):
    """Input that cannot become training or evaluation data; the message says why and where."""


@dataclass(frozen=True)
class RetrievedChunk:
    """One chunk the retriever showed for a question, as the chat service recorded it."""

    chunk_id: str
    text: str
    rank: int | None = None
    score: float | None = None
    cited: bool = False


@dataclass(frozen=True)
class FeedbackRecord:
    """One rated chat message (one line of the feedback JSONL)."""

    message_id: str
    question: str
    verdict: Verdict | None = None
    voter: str | None = None
    voted_at: datetime | None = None
    comment: str | None = None
    sources: dict[str, SourceMark] = field(default_factory=dict)
    retrieved: tuple[RetrievedChunk, ...] = ()
    model_fingerprint: str | None = None

    @property
    def voter_key(self) -> str:
        """Who voted; an anonymous vote counts as its own voter (one per message)."""
        return self.voter or f"anonymous:{self.message_id}"


@dataclass(frozen=True)
class LabelledPair:
    """``(query, chunk, 1|0)``: the row format of OnlineContrastiveLoss / CosineSimilarityLoss."""

    query: str
    chunk_id: str
    text: str
    label: int


@dataclass(frozen=True)
class Triplet:
    """``[query, good chunk, bad chunk]``: the row format of MultipleNegativesRankingLoss with a hard negative."""

    query: str
    positive: str
    negative: str
    positive_id: str | None = None
    negative_id: str | None = None


@dataclass(frozen=True)
class SyntheticQuery:
    """A question that a chunk answers, written by an LLM or by the offline generator.

    ``context`` is the text to train the question against when it differs from the
    chunk (the inverse cloze task removes the query sentence from its passage);
    ``None`` means the chunk itself.
    """

    chunk_id: str
    question: str
    method: str
    context: str | None = None


@dataclass
class IRDataset:
    """The IR JSON format of sentence-transformers' InformationRetrievalEvaluator and LlamaIndex.

    ``{"queries": {qid: text}, "corpus": {cid: text}, "relevant_docs": {qid: [cid, ...]}}``, and
    optionally ``"answers": {qid: reference answer}`` (what answer evaluation compares answers against).
    """

    queries: dict[str, str]
    corpus: dict[str, str]
    relevant_docs: dict[str, list[str]]
    answers: dict[str, str] = field(default_factory=dict)

    def validate(self, source: str = "IR data set") -> "IRDataset":
        """Raise :class:`TrainingDataError` on empty parts or ids that point nowhere."""
        if not self.corpus:
            raise TrainingDataError(f"{source}: the corpus is empty")
        if not self.queries:
            raise TrainingDataError(f"{source}: there are no queries")
        for qid, cids in self.relevant_docs.items():
            if qid not in self.queries:
                raise TrainingDataError(f"{source}: relevant_docs names query {qid!r}, which is not in queries")
            missing = [cid for cid in cids if cid not in self.corpus]
            if missing:
                raise TrainingDataError(
                    f"{source}: query {qid!r} points at chunk {missing[0]!r}, which is not in the corpus"
                )
        for qid, answer in self.answers.items():
            if qid not in self.queries:
                raise TrainingDataError(f"{source}: answers names query {qid!r}, which is not in queries")
            if not isinstance(answer, str) or not answer.strip():
                raise TrainingDataError(f"{source}: the answer to query {qid!r} must be a non-empty text")
        without = [qid for qid in self.queries if not self.relevant_docs.get(qid)]
        if len(without) == len(self.queries):
            raise TrainingDataError(f"{source}: no query has a relevant chunk")
        return self

    def positive_pairs(self) -> list[tuple[str, str, str]]:
        """``(query, chunk_id, chunk text)`` for every relevant (query, chunk) pair, in a stable order."""
        return [
            (self.queries[qid], cid, self.corpus[cid])
            for qid in self.queries
            for cid in self.relevant_docs.get(qid, [])
        ]

    def stats(self) -> dict[str, int]:
        return {
            "queries": len(self.queries),
            "corpus": len(self.corpus),
            "relevant_pairs": sum(len(v) for v in self.relevant_docs.values()),
        }

    def to_dict(self) -> dict:
        """The IR JSON object; ``answers`` only when there are some (plain IR JSON readers never see it)."""
        data = {"queries": self.queries, "corpus": self.corpus, "relevant_docs": self.relevant_docs}
        if self.answers:
            data["answers"] = self.answers
        return data


@dataclass
class TrainingSet:
    """What one fine-tuning run learns from; each loss picks the rows it can use.

    * ``pairs`` — labelled ``(query, chunk, 1|0)``;
    * ``triplets`` — ``[query, good, bad]``;
    * ``positives`` — ``(query, good chunk text)`` with no known bad chunk.
    """

    pairs: list[LabelledPair] = field(default_factory=list)
    triplets: list[Triplet] = field(default_factory=list)
    positives: list[tuple[str, str]] = field(default_factory=list)

    def stats(self) -> dict[str, int]:
        return {
            "pairs": len(self.pairs),
            "positive_pairs": sum(1 for p in self.pairs if p.label == 1),
            "negative_pairs": sum(1 for p in self.pairs if p.label == 0),
            "triplets": len(self.triplets),
            "positives_without_negative": len(self.positives),
        }

    def __len__(self) -> int:
        return len(self.pairs) + len(self.triplets) + len(self.positives)
