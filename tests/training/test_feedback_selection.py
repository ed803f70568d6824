"""The fewer-harder-rows rule for feedback (``training.feedback.hardest_training_set``)."""
import pytest

from tests.training.conftest import retrieved
from training.feedback import hardest_training_set, parse_feedback_record, resolve_feedback
from training.records import TrainingDataError

QUESTION = "How do refunds work?"


def record(message_id="m1", voter="alice", **fields):
    base = {"message_id": message_id, "question": QUESTION, "voter": voter, "voted_at": "2025-03-01T10:00:00Z",
            "sources": {}, "retrieved": []}
    base.update(fields)
    return parse_feedback_record(base)


def rated(order, relevant, **fields):
    """A perfect rater's message: ``order`` shown in that order, every source marked."""
    return record(verdict="like" if set(order) & set(relevant) else "dislike",
                  retrieved=retrieved(*order, cited=tuple(relevant)),
                  sources={cid: "relevant" if cid in relevant else "irrelevant" for cid in order}, **fields)


def test_only_the_negative_the_retriever_ranked_highest_is_kept_with_the_positive():
    resolved = resolve_feedback([rated(["account-1", "billing-1", "billing-2", "account-2"], {"billing-2"})])
    data = hardest_training_set(resolved)
    assert [(p.chunk_id, p.label) for p in data.pairs] == [("billing-2", 1), ("account-1", 0)]
    assert [(t.positive_id, t.negative_id) for t in data.triplets] == [("billing-2", "account-1")]
    assert data.positives == []
    # the full rule makes a pair of every rated chunk and up to three triplets
    assert len(resolved.training_set().pairs) == 4 and len(resolved.training_set().triplets) == 3


def test_hardness_follows_the_shown_rank_not_the_order_of_the_marks():
    rec = record(verdict=None, retrieved=retrieved("account-2", "billing-1", "billing-2"),
                 sources={"billing-1": "irrelevant", "billing-2": "relevant", "account-2": "irrelevant"})
    data = hardest_training_set(resolve_feedback([rec]))
    assert [t.negative_id for t in data.triplets] == ["account-2"]


def test_the_best_rank_over_several_messages_counts():
    first = rated(["billing-2", "billing-1", "account-1"], {"billing-2"})
    # another person asked the same question later; this time account-1 was on top
    second = rated(["account-1", "billing-2"], {"billing-2"}, message_id="m2", voter="bob")
    data = hardest_training_set(resolve_feedback([first, second]))
    assert [t.negative_id for t in data.triplets] == ["account-1"]


def test_several_negatives_per_question_and_every_positive_gets_a_triplet():
    resolved = resolve_feedback([rated(["account-1", "billing-2", "billing-1", "account-2"],
                                       {"billing-2", "billing-1"})])
    data = hardest_training_set(resolved, negatives_per_question=2)
    assert sorted((t.positive_id, t.negative_id) for t in data.triplets) == [
        ("billing-1", "account-1"), ("billing-1", "account-2"), ("billing-2", "account-1"),
        ("billing-2", "account-2")]


def test_a_disliked_answer_keeps_its_top_negative_and_a_lone_positive_is_left_for_mining():
    disliked = rated(["account-2", "account-1", "billing-1"], set())
    liked = record(message_id="m2", question="Can I get my money back?", verdict="like",
                   retrieved=retrieved("billing-2", cited=("billing-2",)))
    data = hardest_training_set(resolve_feedback([disliked, liked]))
    assert [(p.query, p.chunk_id, p.label) for p in data.pairs] == [
        (QUESTION, "account-2", 0), ("Can I get my money back?", "billing-2", 1)]
    assert data.triplets == [] and [q for q, _ in data.positives] == ["Can I get my money back?"]


def test_a_subset_keeps_the_ranks():
    resolved = resolve_feedback([rated(["account-1", "billing-1", "billing-2"], {"billing-2"})])
    data = hardest_training_set(resolved.subset([QUESTION]))
    assert [t.negative_id for t in data.triplets] == ["account-1"]


def test_at_least_one_negative_is_asked_for():
    with pytest.raises(TrainingDataError, match="at least 1"):
        hardest_training_set(resolve_feedback([rated(["billing-2"], {"billing-2"})]), negatives_per_question=0)
