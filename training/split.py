"""Split data into train and held-out parts **by chunk**, with a fixed seed.

A question goes to the held-out side when any chunk it is answered by is held
out, so no held-out chunk's question is ever trained on (two questions about one
chunk land on the same side). Identical question texts always stay together.
The held-out side keeps the whole corpus, so evaluation searches every chunk.

One of the project's two held-out rules, on purpose. This one is for a data set given whole, once
(IR JSON, a synthetic corpus, the benchmarks): a seeded shuffle holds out exactly the fraction
asked for, and ``--seed`` gives another split to check a result is not one split's luck. Ratings
are the other case (``training.evaluation_set.is_evaluation_chunk``): they grow run after run,
and a question must stay on its side for good whatever else was rated since — a shuffle of a
set that changes would move it, so they use a hash of the chunk's text, with no seed and no state.
Feedback is never split by this module.

Example::

    from training.split import split_ir_by_chunk
    split = split_ir_by_chunk(ir, held_out_fraction=0.2, seed=42)
    split.train.queries, split.held_out.queries
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from training.feedback import question_key
from training.records import IRDataset, TrainingDataError


def choose_held_out_chunks(chunk_ids, held_out_fraction: float = 0.2, seed: int = 42) -> set[str]:
    """A reproducible ``held_out_fraction`` of ``chunk_ids`` (at least one, and never all of several)."""
    if not 0 < held_out_fraction < 1:
        raise TrainingDataError(f"held-out fraction must be between 0 and 1, not {held_out_fraction}")
    ids = sorted(set(chunk_ids))
    if len(ids) < 2:
        raise TrainingDataError(f"need questions about at least 2 chunks to split train/held-out, got {len(ids)}")
    random.Random(seed).shuffle(ids)
    count = min(len(ids) - 1, max(1, round(len(ids) * held_out_fraction)))
    return set(ids[:count])


def _held_out_questions(positives_by_question: dict[str, list[str]], held_out: set[str]) -> set[str]:
    """Questions answered by at least one held-out chunk."""
    return {q for q, cids in positives_by_question.items() if held_out.intersection(cids)}


@dataclass
class IRSplit:
    train: IRDataset
    held_out: IRDataset
    held_out_chunks: set[str]


def split_ir_by_chunk(ir: IRDataset, held_out_fraction: float = 0.2, seed: int = 42) -> IRSplit:
    """Split an IR data set by chunk; both parts keep the full corpus."""
    relevant = {qid: cids for qid, cids in ir.relevant_docs.items() if cids and qid in ir.queries}
    held_chunks = choose_held_out_chunks({c for cids in relevant.values() for c in cids}, held_out_fraction, seed)
    held = _held_out_questions(relevant, held_chunks)
    # a question text asked twice must not be on both sides
    held_texts = {question_key(ir.queries[q]) for q in held}
    held |= {q for q in relevant if question_key(ir.queries[q]) in held_texts}
    train_q = [q for q in relevant if q not in held]
    if not train_q or not held:
        raise TrainingDataError("the split left one side without questions; add data or change --held-out")

    def part(qids):
        return IRDataset({q: ir.queries[q] for q in qids}, dict(ir.corpus), {q: list(relevant[q]) for q in qids},
                         {q: ir.answers[q] for q in qids if q in ir.answers})

    return IRSplit(part(train_q), part([q for q in relevant if q in held]), held_chunks)

