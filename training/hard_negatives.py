"""Hard negatives for positives that have none, mined with the current model.

A thin wrapper over sentence-transformers' own ``mine_hard_negatives``: for every
``(query, good chunk)`` it takes the corpus chunks the model ranks closest to the
query, skips the query's known positives, and skips near-duplicates of the positive
with a **relative margin** (a candidate scoring within 5 % of the positive's score is
probably another right answer — the NV-Retriever "TopK-PercPos" rule).

Example::

    from training.hard_negatives import mine_negatives
    triplets = mine_negatives(model, [("how do refunds work?", "Refunds are paid ...")], corpus_texts)
"""
from __future__ import annotations

from training.records import TrainingSet, Triplet


def mine_negatives(
    model,
    positives: list[tuple[str, str]],
    corpus: list[str],
    *,
    num_negatives: int = 1,
    relative_margin: float = 0.05,
    range_max: int = 30,
    batch_size: int = 32,
    show_progress: bool = False,
) -> list[Triplet]:
    """``[query, good, bad]`` for each positive whose mining found a negative (others are left out)."""
    if not positives:
        return []
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    candidates = list(dict.fromkeys([*corpus, *(p for _, p in positives)]))
    range_max = max(num_negatives, min(range_max, len(candidates) - 1))
    if range_max < num_negatives or len(candidates) < 2:
        return []
    dataset = Dataset.from_dict({"anchor": [q for q, _ in positives], "positive": [p for _, p in positives]})
    mined = mine_hard_negatives(
        dataset,
        model,
        corpus=candidates,
        relative_margin=relative_margin,
        range_max=range_max,
        num_negatives=num_negatives,
        sampling_strategy="top",
        output_format="triplet",
        batch_size=batch_size,
        verbose=show_progress,
    )
    return [Triplet(row["anchor"], row["positive"], row["negative"]) for row in mined]


def add_hard_negatives(model, data: TrainingSet, corpus: list[str], **options) -> TrainingSet:
    """A copy of ``data`` whose bare positives became triplets wherever a hard negative was found."""
    triplets = mine_negatives(model, data.positives, corpus, **options)
    covered = {(t.query, t.positive) for t in triplets}
    return TrainingSet(
        pairs=list(data.pairs),
        triplets=[*data.triplets, *triplets],
        positives=[p for p in data.positives if p not in covered],
    )
