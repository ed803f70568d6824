import json
import re

import pytest

from tests.training.conftest import make_ir
from training.irjson import ir_dataset_from_dict, load_ir_json, save_ir_json
from training.records import TrainingDataError
from training.split import split_ir_by_chunk


def test_ir_json_round_trips(tmp_path):
    ir = ir_dataset_from_dict(make_ir())
    again = load_ir_json(save_ir_json(ir, tmp_path / "out.json"))
    assert again == ir


def test_ir_json_with_a_missing_key_is_refused(tmp_path):
    data = make_ir()
    del data["relevant_docs"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(TrainingDataError, match="missing key.*relevant_docs"):
        load_ir_json(path)


def test_ir_json_with_a_dangling_chunk_id_is_refused():
    data = make_ir()
    data["relevant_docs"]["billing-1-q0"] = ["no-such-chunk"]
    with pytest.raises(TrainingDataError, match="no-such-chunk"):
        ir_dataset_from_dict(data)


def test_beir_style_relevance_maps_are_accepted():
    data = make_ir()
    data["relevant_docs"]["billing-1-q0"] = {"billing-1": 1}
    assert ir_dataset_from_dict(data).relevant_docs["billing-1-q0"] == ["billing-1"]


def test_split_by_chunk_never_puts_a_held_out_chunks_question_in_training():
    ir = ir_dataset_from_dict(make_ir())
    split = split_ir_by_chunk(ir, held_out_fraction=0.25, seed=7)
    train_chunks = {c for cids in split.train.relevant_docs.values() for c in cids}
    held_chunks = {c for cids in split.held_out.relevant_docs.values() for c in cids}
    assert held_chunks == split.held_out_chunks and not train_chunks & held_chunks
    assert len(held_chunks) == 4
    # both questions of a chunk land on the same side
    for cid in held_chunks:
        assert f"{cid}-q0" in split.held_out.queries and f"{cid}-q1" in split.held_out.queries
    assert set(split.train.queries).isdisjoint(split.held_out.queries)


def test_split_is_reproducible_with_a_seed_and_changes_with_another():
    ir = ir_dataset_from_dict(make_ir())
    assert split_ir_by_chunk(ir, seed=1).held_out_chunks == split_ir_by_chunk(ir, seed=1).held_out_chunks
    assert split_ir_by_chunk(ir, seed=1).held_out_chunks != split_ir_by_chunk(ir, seed=2).held_out_chunks


def test_a_question_asked_about_two_chunks_goes_wholly_to_the_held_out_side():
    data = make_ir()
    data["relevant_docs"]["billing-1-q0"] = ["billing-1", "billing-2"]
    ir = ir_dataset_from_dict(data)
    for seed in range(10):
        split = split_ir_by_chunk(ir, seed=seed)
        if split.held_out_chunks & {"billing-1", "billing-2"}:
            assert "billing-1-q0" in split.held_out.queries and "billing-1-q0" not in split.train.queries


def test_reference_answers_round_trip_and_plain_ir_json_has_no_answers_key(tmp_path):
    data = {**make_ir(), "answers": {"billing-1-q0": "Pro costs 8 dollars a month [1].", "sync-1-q1": "Both are kept."}}
    ir = ir_dataset_from_dict(data)
    assert ir.answers == data["answers"]
    path = save_ir_json(ir, tmp_path / "with_answers.json")
    assert json.loads(path.read_text())["answers"] == data["answers"]
    assert load_ir_json(path) == ir

    plain = ir_dataset_from_dict(make_ir())
    assert plain.answers == {}
    assert "answers" not in json.loads(save_ir_json(plain, tmp_path / "plain.json").read_text())


def test_the_split_keeps_each_sides_reference_answers():
    answers = {qid: f"answer to {qid}" for qid in make_ir()["queries"]}
    split = split_ir_by_chunk(ir_dataset_from_dict({**make_ir(), "answers": answers}), held_out_fraction=0.25, seed=7)
    assert split.train.answers == {q: answers[q] for q in split.train.queries}
    assert split.held_out.answers == {q: answers[q] for q in split.held_out.queries}


@pytest.mark.parametrize(("answers", "message"), [
    (["an answer"], r"'answers' must be an object \{query id: reference answer\}"),
    ({"billing-1-q0": ""}, r"answers\['billing-1-q0'\] must be a non-empty text"),
    ({"billing-1-q0": "   "}, r"answers\['billing-1-q0'\] must be a non-empty text"),
    ({"billing-1-q0": 42}, r"answers\['billing-1-q0'\] must be a non-empty text"),
    ({"no-such-query": "Yes."}, r"answers names query 'no-such-query', which is not in queries"),
])
def test_bad_reference_answers_are_refused_with_where_and_why(tmp_path, answers, message):
    path = tmp_path / "bad_answers.json"
    path.write_text(json.dumps({**make_ir(), "answers": answers}))
    with pytest.raises(TrainingDataError, match=f"^{re.escape(str(path))}: {message}"):
        load_ir_json(path)
