"""The frozen evaluation set: the rated questions that judge every version and are never trained on.

A rated question goes to the evaluation side, once and for good, when any chunk it is answered
by is an *evaluation chunk*; a chunk is one when a hash of its text falls in the first ``share``
of the hash range (:func:`is_evaluation_chunk`). The rule needs no seed and no state: the same
chunk is on the same side in every run, on every machine, whatever else was rated — and after
its document is ingested again from another path (the text, not the id, decides). The set
only grows: a question once in it stays (the application stores it), even when later votes
change its chunks, and questions imported as IR JSON (``docstune evalset import``) join it.
A feedback question whose chunk is the relevant chunk of any question already in the set is an
evaluation question too, so no evaluation chunk is ever a training positive.

Why a second held-out rule beside ``training.split.choose_held_out_chunks`` (a seeded shuffle for a data
set given whole, once): ratings arrive run after run, and a shuffle of a set that changes would move
questions between the sides; a hash of the text keeps each on its side for good, at the price of an
evaluation share that is only about ``share``.

Example::

    from training.evaluation_set import EvaluationSet
    frozen = EvaluationSet()
    grown = frozen.grown(resolved_feedback, share=0.2)
    held_out = grown.to_ir(chunk_texts)          # the questions every version is judged on
    train = [q for q in resolved_feedback.questions() if not grown.holds(q)]
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from training.feedback import ResolvedFeedback, question_key
from training.gate import DEFAULT_MIN_QUESTIONS
from training.records import IRDataset, TrainingDataError

#: the share of chunks whose questions judge rather than train (EVALUATION_SHARE)
EVALUATION_SHARE = 0.2
#: the share while the set is too small for the gate to decide (EVALUATION_SHARE_START)
EVALUATION_SHARE_START = 0.5
ORIGINS = ("feedback", "import")


def is_evaluation_chunk(text: str, share: float = EVALUATION_SHARE) -> bool:
    """Whether questions about the chunk of ``text`` belong to the evaluation set (a stable hash rule)."""
    if not 0 < share < 1:
        raise TrainingDataError(f"the evaluation share must be between 0 and 1, not {share}")
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") < share * 2 ** 64


def growth_share(held: int, share: float = EVALUATION_SHARE, start_share: float | None = EVALUATION_SHARE_START,
                 min_questions: int = DEFAULT_MIN_QUESTIONS) -> float:
    """The share a growth of a set holding ``held`` questions assigns by: ``start_share`` (when larger)
    while the set holds fewer than ``min_questions`` (GATE_MIN_QUESTIONS, below which the gate decides
    nothing), then ``share``. Ratings are few at first, and the Debian FAQ's 59 rated answers put only
    14 questions in a 0.2 set, so no round could ever be judged (docs/training.md).

    Safe to lower later: a chunk that a question put in the set stays an evaluation chunk (the set
    only grows, and a question about a chunk it holds joins it), so the chunks between ``share`` and
    ``start_share`` that were never rated while the set was small are training chunks from then on,
    and no evaluation chunk is ever a training positive."""
    if start_share is not None and held < min_questions:
        return max(share, start_share)
    return share


def query_id_of(key: str) -> str:
    """The stable IR JSON query id of a question (by its normalised text)."""
    return "e" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class EvaluationQuestion:
    question: str
    relevant: tuple[str, ...]  # chunk ids
    origin: str = "feedback"  # one of ORIGINS

    @property
    def key(self) -> str:
        return question_key(self.question)


@dataclass
class EvaluationSet:
    """Evaluation questions by normalised text (``training.feedback.question_key``)."""

    questions: dict[str, EvaluationQuestion] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.questions)

    def holds(self, question: str) -> bool:
        return question_key(question) in self.questions

    @property
    def chunks(self) -> set[str]:
        """Every chunk some evaluation question is answered by."""
        return {cid for q in self.questions.values() for cid in q.relevant}

    def fingerprint(self) -> str:
        """Changes whenever a question or its relevant chunks change: versions measured on the same
        fingerprint were measured on the same questions."""
        digest = hashlib.sha256()
        for key in sorted(self.questions):
            digest.update(key.encode("utf-8") + b"\0" + ",".join(sorted(self.questions[key].relevant)).encode() + b"\n")
        return digest.hexdigest()[:16]

    def describe(self) -> dict:
        origins = {o: sum(q.origin == o for q in self.questions.values()) for o in ORIGINS}
        return {"questions": len(self), "fingerprint": self.fingerprint(), **origins}

    def grown(self, resolved: ResolvedFeedback, share: float = EVALUATION_SHARE) -> "EvaluationSet":
        """This set plus every rated question the rule assigns to evaluation; a question already in
        it keeps its place, with its relevant chunks brought up to date by the votes."""
        questions = dict(self.questions)
        taken = self.chunks
        for question in resolved.questions():
            positives = tuple(sorted(resolved.positive_chunks(question)))
            key = question_key(question)
            held = questions.get(key)
            if held is not None:
                if positives and held.origin == "feedback" and positives != held.relevant:
                    questions[key] = replace(held, relevant=positives)
                continue
            if positives and any(c in taken or is_evaluation_chunk(resolved.texts.get(c, c), share)
                                 for c in positives):
                questions[key] = EvaluationQuestion(question, positives, "feedback")
        return EvaluationSet(questions)

    def added_since(self, older: "EvaluationSet") -> list[str]:
        return [key for key in self.questions if key not in older.questions]

    def to_ir(self, corpus: dict[str, str]) -> IRDataset:
        """The questions as IR JSON over ``corpus`` (the deployment's whole chunk corpus); a question
        whose chunks are all gone from it is left out (it cannot be answered any more)."""
        queries, relevant = {}, {}
        for key, q in sorted(self.questions.items()):
            found = [cid for cid in q.relevant if cid in corpus]
            if found:
                qid = query_id_of(key)
                queries[qid], relevant[qid] = q.question, found
        return IRDataset(queries, dict(corpus), relevant)

    @classmethod
    def from_ir(cls, ir: IRDataset, origin: str = "import") -> "EvaluationSet":
        """Questions of an IR JSON set (their relevant ids must be this deployment's chunk ids)."""
        questions = {}
        for qid, text in ir.queries.items():
            cids = tuple(sorted(dict.fromkeys(ir.relevant_docs.get(qid) or ())))
            if cids and text.strip():
                question = EvaluationQuestion(text.strip(), cids, origin)
                questions[question.key] = question
        return cls(questions)

    def merged(self, other: "EvaluationSet") -> "EvaluationSet":
        """This set with ``other``'s questions added (a question already here keeps its place)."""
        return EvaluationSet({**other.questions, **self.questions})
