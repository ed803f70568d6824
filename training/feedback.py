"""From the feedback JSONL to labelled pairs and ``[query, good, bad]`` triplets.

What a vote means:

* a liked answer's **cited** chunks, and every chunk marked ``relevant``, are positives
  for the question;
* chunks marked ``irrelevant``, and the retrieved chunks of a **disliked** answer that
  no one marked relevant, are negatives;
* a mark on a source beats the verdict on the whole answer, within one message.

Conflicting votes on the same (question, chunk) are resolved in two steps:

1. **latest vote per person wins** (``voted_at``; a vote with no time is older than any
   timed one). Two votes of one person at the same time that disagree cancel out;
2. across people, the **majority** label wins; a **tie drops the pair**.

Questions are matched case- and whitespace-insensitively.

Example::

    from training.feedback import read_feedback_jsonl, resolve_feedback
    records = read_feedback_jsonl("feedback.jsonl")
    resolved = resolve_feedback(records)
    data = resolved.training_set()          # pairs + triplets + positives
    print(resolved.stats)
"""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from training.records import (
    FeedbackRecord,
    IRDataset,
    LabelledPair,
    RetrievedChunk,
    TrainingDataError,
    TrainingSet,
    Triplet,
)

_EPOCH = datetime.min.replace(tzinfo=timezone.utc)


# -- reading ----------------------------------------------------------------------
def _parse_time(value, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise TrainingDataError(f"{where}: voted_at must be an ISO time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TrainingDataError(f"{where}: voted_at {value!r} is not an ISO time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_feedback_record(data: object, where: str = "feedback") -> FeedbackRecord:
    """Build a :class:`FeedbackRecord` from one decoded JSON object; optional fields may be missing."""
    if not isinstance(data, dict):
        raise TrainingDataError(f"{where}: expected a JSON object, got {type(data).__name__}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise TrainingDataError(f"{where}: 'question' is missing or empty")
    verdict = data.get("verdict")
    if verdict not in (None, "like", "dislike"):
        raise TrainingDataError(f"{where}: verdict must be 'like', 'dislike' or null, not {verdict!r}")
    sources = data.get("sources") or {}
    if not isinstance(sources, dict):
        raise TrainingDataError(f"{where}: 'sources' must be an object {{chunk_id: 'relevant'|'irrelevant'}}")
    for cid, mark in sources.items():
        if mark not in ("relevant", "irrelevant"):
            raise TrainingDataError(f"{where}: source {cid!r} is marked {mark!r}; use 'relevant' or 'irrelevant'")
    retrieved = []
    for i, item in enumerate(data.get("retrieved") or []):
        if not isinstance(item, dict) or not item.get("chunk_id"):
            raise TrainingDataError(f"{where}: retrieved[{i}] needs a 'chunk_id'")
        retrieved.append(
            RetrievedChunk(
                chunk_id=str(item["chunk_id"]),
                text=str(item.get("text") or ""),
                rank=item.get("rank"),
                score=item.get("score"),
                cited=bool(item.get("cited", False)),
            )
        )
    return FeedbackRecord(
        message_id=str(data.get("message_id") or where),
        question=question.strip(),
        verdict=verdict,
        voter=data.get("voter") or None,
        voted_at=_parse_time(data.get("voted_at"), where),
        comment=data.get("comment"),
        sources={str(k): v for k, v in sources.items()},
        retrieved=tuple(retrieved),
        model_fingerprint=data.get("model_fingerprint"),
    )


def read_feedback_jsonl(path: str | os.PathLike) -> list[FeedbackRecord]:
    """Every record of a feedback JSONL file; blank lines are skipped, a bad line raises with its number."""
    path = Path(path)
    if not path.is_file():
        raise TrainingDataError(f"{path}: no such file")
    records = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TrainingDataError(f"{where}: not valid JSON ({exc.msg})") from exc
            records.append(parse_feedback_record(data, where))
    if not records:
        raise TrainingDataError(f"{path}: the feedback file is empty; rate some answers first")
    return records


# -- resolving votes ----------------------------------------------------------------
def question_key(question: str) -> str:
    return re.sub(r"\s+", " ", question).strip().casefold()


@dataclass(frozen=True)
class Judgement:
    """One person's label for one (question, chunk), as read from one record."""

    question: str
    chunk_id: str
    label: int
    voter: str
    voted_at: datetime | None
    explicit: bool  # a mark on the source, not inferred from the answer's verdict


def judgements_from_record(record: FeedbackRecord) -> list[Judgement]:
    """What one rated message says about each chunk, before any conflict is resolved."""
    labels: dict[str, tuple[int, bool]] = {}
    if record.verdict == "like":
        for chunk in record.retrieved:
            if chunk.cited:
                labels[chunk.chunk_id] = (1, False)
    elif record.verdict == "dislike":
        for chunk in record.retrieved:
            labels[chunk.chunk_id] = (0, False)
    for cid, mark in record.sources.items():  # a mark on a source beats the verdict
        labels[cid] = (1 if mark == "relevant" else 0, True)
    return [
        Judgement(record.question, cid, label, record.voter_key, record.voted_at, explicit)
        for cid, (label, explicit) in labels.items()
    ]


@dataclass
class ResolvedFeedback:
    """One label per (question, chunk) after the conflict rule, plus every chunk text seen."""

    labels: dict[str, dict[str, int]]  # question -> chunk id -> 1|0
    texts: dict[str, str]
    stats: dict[str, int] = field(default_factory=dict)
    #: question -> chunk id -> the best rank (1 = top) at which any rated message showed the chunk for
    #: the question; a chunk only marked in ``sources``, never in ``retrieved``, has none
    shown_ranks: dict[str, dict[str, int]] = field(default_factory=dict)

    def questions(self) -> list[str]:
        return list(self.labels)

    def positive_chunks(self, question: str) -> list[str]:
        return [cid for cid, label in self.labels[question].items() if label == 1]

    def subset(self, questions: Iterable[str]) -> "ResolvedFeedback":
        keep = set(questions)
        return ResolvedFeedback({q: dict(v) for q, v in self.labels.items() if q in keep}, self.texts, {},
                                {q: dict(v) for q, v in self.shown_ranks.items() if q in keep})

    def training_set(self, max_negatives_per_positive: int = 3) -> TrainingSet:
        """Labelled pairs for every label; triplets where a question has both; bare positives otherwise."""
        data = TrainingSet()
        for question, chunks in self.labels.items():
            good = [cid for cid, label in chunks.items() if label == 1]
            bad = [cid for cid, label in chunks.items() if label == 0]
            for cid, label in chunks.items():
                data.pairs.append(LabelledPair(question, cid, self.texts[cid], label))
            for i, pos in enumerate(good):
                if not bad:
                    data.positives.append((question, self.texts[pos]))
                    continue
                # rotate so several positives of one question do not all meet the same negatives
                chosen = [bad[(i + k) % len(bad)] for k in range(min(max_negatives_per_positive, len(bad)))]
                for neg in chosen:
                    data.triplets.append(Triplet(question, self.texts[pos], self.texts[neg], pos, neg))
        return data

    def to_ir_dataset(self, extra_corpus: dict[str, str] | None = None) -> IRDataset:
        """Questions with at least one positive, against every chunk text known (for evaluation)."""
        queries, relevant = {}, {}
        for i, question in enumerate(self.labels):
            positives = self.positive_chunks(question)
            if positives:
                qid = f"fq{i}"
                queries[qid] = question
                relevant[qid] = positives
        corpus = {**(extra_corpus or {}), **self.texts}
        return IRDataset(queries, corpus, relevant)


def resolve_feedback(
    records: Iterable[FeedbackRecord], chunk_texts: dict[str, str] | None = None
) -> ResolvedFeedback:
    """Apply the conflict rule (see module doc) and keep the pairs whose chunk text is known.

    ``chunk_texts`` supplies texts for chunks marked in ``sources`` but absent from
    ``retrieved`` (the application passes them from its database).
    """
    records = list(records)
    texts: dict[str, str] = dict(chunk_texts or {})
    for record in records:
        for chunk in record.retrieved:
            if chunk.text and chunk.chunk_id not in texts:
                texts[chunk.chunk_id] = chunk.text
    display: dict[str, str] = {}
    by_pair: dict[tuple[str, str], list[Judgement]] = defaultdict(list)
    best_rank: dict[tuple[str, str], int] = {}
    for record in records:
        display.setdefault(question_key(record.question), record.question)
        for position, chunk in enumerate(record.retrieved, start=1):
            key = (question_key(record.question), chunk.chunk_id)
            rank = chunk.rank if isinstance(chunk.rank, int) else position
            best_rank[key] = min(rank, best_rank.get(key, rank))
        for judgement in judgements_from_record(record):
            by_pair[(question_key(judgement.question), judgement.chunk_id)].append(judgement)

    # "the retrieved chunks of a disliked answer that no one marked relevant"
    marked_relevant = {key for key, js in by_pair.items() if any(j.explicit and j.label == 1 for j in js)}
    stats = defaultdict(int, records=len(records), judgements=sum(len(v) for v in by_pair.values()))
    labels: dict[str, dict[str, int]] = defaultdict(dict)
    for key, judgements in by_pair.items():
        if key in marked_relevant:
            dropped = [j for j in judgements if not j.explicit and j.label == 0]
            stats["implicit_negatives_overruled"] += len(dropped)
            judgements = [j for j in judgements if j not in dropped]
        label = _resolve_pair(judgements, stats)
        if label is None:
            continue
        if key[1] not in texts:
            stats["dropped_no_text"] += 1
            continue
        labels[display[key[0]]][key[1]] = label
    labels = {q: v for q, v in labels.items() if v}
    stats["questions"] = len(labels)
    stats["positive_pairs"] = sum(1 for v in labels.values() for label in v.values() if label == 1)
    stats["negative_pairs"] = sum(1 for v in labels.values() for label in v.values() if label == 0)
    ranks = {q: {cid: best_rank[(question_key(q), cid)] for cid in v if (question_key(q), cid) in best_rank}
             for q, v in labels.items()}
    return ResolvedFeedback(labels, texts, dict(stats), ranks)


def hardest_training_set(resolved: ResolvedFeedback, negatives_per_question: int = 1) -> TrainingSet:
    """Fewer, harder rows than ``resolved.training_set()``: per question its positives and only its
    ``negatives_per_question`` hardest negatives — the ones the serving pipeline ranked highest when it
    showed them (best ``shown_ranks``; a negative never shown comes after every shown one).

    * a question with positives and negatives gives ``(q, pos, 1)`` and ``(q, neg, 0)`` pairs and one
      ``[q, pos, neg]`` triplet per (positive, chosen negative);
    * a positive with no negative stays a bare positive (for hard-negative mining);
    * a question with negatives only gives its chosen ``(q, neg, 0)`` pairs.

    Why: a rated answer shows 5 chunks and a perfect rater labels them all, so ``training_set()`` makes
    about 5 pair rows per question, most of them easy negatives ranked 3rd to 5th that the contrastive
    losses spend a forward and backward pass on for little signal. Measured in docs/training.md
    ("Retraining from feedback: where the time goes").
    """
    if negatives_per_question < 1:
        raise TrainingDataError(f"negatives_per_question must be at least 1, not {negatives_per_question}")
    data = TrainingSet()
    for question, chunks in resolved.labels.items():
        ranks = resolved.shown_ranks.get(question, {})
        good = [cid for cid, label in chunks.items() if label == 1]
        bad = [cid for cid, label in chunks.items() if label == 0]
        # stable: among negatives never shown (or shown at one rank), the order they were labelled in
        bad = sorted(bad, key=lambda cid: ranks.get(cid, float("inf")))[:negatives_per_question]
        for cid in good:
            data.pairs.append(LabelledPair(question, cid, resolved.texts[cid], 1))
        for cid in bad:
            data.pairs.append(LabelledPair(question, cid, resolved.texts[cid], 0))
        for pos in good:
            if not bad:
                data.positives.append((question, resolved.texts[pos]))
            for neg in bad:
                data.triplets.append(Triplet(question, resolved.texts[pos], resolved.texts[neg], pos, neg))
    return data


def _resolve_pair(judgements: list[Judgement], stats) -> int | None:
    latest: dict[str, list[Judgement]] = defaultdict(list)
    for j in judgements:
        latest[j.voter].append(j)
    votes = []
    for voter_judgements in latest.values():
        newest = max(j.voted_at or _EPOCH for j in voter_judgements)
        at_newest = {j.label for j in voter_judgements if (j.voted_at or _EPOCH) == newest}
        if len(at_newest) == 1:
            votes.append(at_newest.pop())
        else:
            stats["self_conflicts_dropped"] += 1
    if not votes:
        return None
    ones = sum(votes)
    zeros = len(votes) - ones
    if ones == zeros:
        stats["ties_dropped"] += 1
        return None
    if ones and zeros:
        stats["conflicts_resolved_by_majority"] += 1
    return 1 if ones > zeros else 0


def build_pairs_from_feedback(
    feedback: str | os.PathLike | Iterable[FeedbackRecord], chunk_texts: dict[str, str] | None = None
) -> ResolvedFeedback:
    """Resolve the ratings — a feedback JSONL file (``docstune feedback export``) or records already in
    memory (the retrain job reads them from SQL: no file is written and read back); raise if nothing
    usable is left."""
    if isinstance(feedback, (str, os.PathLike)):
        records, source = read_feedback_jsonl(feedback), f"{feedback}: "
    else:
        records, source = list(feedback), ""
    resolved = resolve_feedback(records, chunk_texts)
    if not resolved.labels:
        raise TrainingDataError(
            f"{source}the feedback holds no usable (question, chunk) pair "
            f"(votes without cited or marked sources, or every pair dropped as a tie)"
        )
    return resolved
