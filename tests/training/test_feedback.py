import json

import pytest

from tests.training.conftest import retrieved, write_jsonl
from training.feedback import build_pairs_from_feedback, read_feedback_jsonl, resolve_feedback
from training.feedback import parse_feedback_record
from training.records import TrainingDataError


def record(**fields):
    base = {"message_id": "m1", "question": "How do refunds work?", "voter": "alice",
            "voted_at": "2025-03-01T10:00:00Z", "sources": {}, "retrieved": []}
    base.update(fields)
    return parse_feedback_record(base)


def labels_of(records):
    resolved = resolve_feedback(records)
    return {cid: label for chunks in resolved.labels.values() for cid, label in chunks.items()}


def test_cited_chunks_of_a_liked_answer_become_positives_and_uncited_ones_nothing():
    rec = record(verdict="like", retrieved=retrieved("billing-2", "account-1", cited=("billing-2",)))
    assert labels_of([rec]) == {"billing-2": 1}


def test_dislike_on_a_source_becomes_a_negative_pair():
    rec = record(verdict=None, sources={"account-1": "irrelevant"}, retrieved=retrieved("account-1"))
    resolved = resolve_feedback([rec])
    pairs = resolved.training_set().pairs
    assert [(p.chunk_id, p.label) for p in pairs] == [("account-1", 0)]
    assert pairs[0].query == "How do refunds work?" and "password" in pairs[0].text


def test_retrieved_chunks_of_a_disliked_answer_are_negatives_unless_someone_marked_them_relevant():
    disliked = record(verdict="dislike", retrieved=retrieved("billing-1", "billing-2"))
    other = record(message_id="m2", voter="bob", verdict=None, sources={"billing-2": "relevant"},
                   retrieved=retrieved("billing-2"))
    assert labels_of([disliked]) == {"billing-1": 0, "billing-2": 0}
    assert labels_of([disliked, other]) == {"billing-1": 0, "billing-2": 1}


def test_a_mark_on_a_source_beats_the_verdict_of_the_same_message():
    rec = record(verdict="like", retrieved=retrieved("billing-2", cited=("billing-2",)),
                 sources={"billing-2": "irrelevant"})
    assert labels_of([rec]) == {"billing-2": 0}


def test_latest_vote_of_a_person_wins():
    old = record(voted_at="2025-03-01T10:00:00Z", sources={"billing-2": "irrelevant"}, retrieved=retrieved("billing-2"))
    new = record(message_id="m2", voted_at="2025-03-02T10:00:00+00:00", sources={"billing-2": "relevant"},
                 retrieved=retrieved("billing-2"))
    assert labels_of([new, old]) == {"billing-2": 1}


def test_a_tie_between_people_drops_the_pair():
    yes = record(voter="alice", sources={"billing-2": "relevant"}, retrieved=retrieved("billing-2"))
    no = record(message_id="m2", voter="bob", sources={"billing-2": "irrelevant"}, retrieved=retrieved("billing-2"))
    resolved = resolve_feedback([yes, no])
    assert resolved.labels == {}
    assert resolved.stats["ties_dropped"] == 1


def test_the_majority_of_people_wins_and_questions_match_case_insensitively():
    votes = [record(message_id=f"m{i}", voter=v, question=q, sources={"billing-2": m}, retrieved=retrieved("billing-2"))
             for i, (v, q, m) in enumerate([("a", "How do refunds work?", "relevant"),
                                            ("b", "how do  REFUNDS work?", "relevant"),
                                            ("c", "How do refunds work?", "irrelevant")])]
    assert labels_of(votes) == {"billing-2": 1}


def test_triplets_pair_each_positive_with_a_negative_of_the_same_question():
    rec = record(verdict="dislike", retrieved=retrieved("billing-1", "billing-2"), sources={"billing-2": "relevant"})
    data = resolve_feedback([rec]).training_set()
    assert len(data.triplets) == 1
    assert "refund" in data.triplets[0].positive and "8 dollars" in data.triplets[0].negative
    assert data.positives == []


def test_missing_optional_fields_are_tolerated(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", [{"question": "Is VAT included?", "verdict": "like",
                                               "retrieved": [{"chunk_id": "c1", "text": "VAT is included.", "cited": True}]}])
    records = read_feedback_jsonl(path)
    assert records[0].voter is None and records[0].voted_at is None and records[0].sources == {}
    assert build_pairs_from_feedback(path).labels == {"Is VAT included?": {"c1": 1}}


def test_a_malformed_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps({"question": "ok?", "verdict": "like"}) + "\n\n{not json\n")
    with pytest.raises(TrainingDataError, match=r"f.jsonl:3: not valid JSON"):
        read_feedback_jsonl(path)


def test_an_unknown_verdict_is_refused_with_its_line(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", [{"question": "q?", "verdict": "meh"}])
    with pytest.raises(TrainingDataError, match=r":1: verdict must be"):
        read_feedback_jsonl(path)


def test_an_empty_feedback_file_is_an_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    with pytest.raises(TrainingDataError, match="empty"):
        read_feedback_jsonl(path)


def test_feedback_without_usable_pairs_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", [{"question": "q?", "verdict": "like", "retrieved": retrieved("billing-1")}])
    with pytest.raises(TrainingDataError, match="no usable"):
        build_pairs_from_feedback(path)
