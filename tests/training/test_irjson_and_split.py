import json

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
