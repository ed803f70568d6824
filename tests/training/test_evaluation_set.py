"""The frozen evaluation set: a stable rule, a set that only grows, IR JSON in and out."""
import json

from tests.training.conftest import HELP_CENTRE, chunk_texts, make_feedback_records, make_ir, write_jsonl
from training.evaluation_set import EvaluationSet, growth_share, is_evaluation_chunk
from training.feedback import build_pairs_from_feedback, question_key
from training.irjson import ir_dataset_from_dict
from training.pipeline import prepare_from_feedback


def resolved_from(tmp_path, records, name="feedback.jsonl"):
    return build_pairs_from_feedback(write_jsonl(tmp_path / name, records), chunk_texts())


def test_the_rule_is_a_stable_hash_of_the_chunk_text_near_the_share():
    ids = [f"chunk-{i}" for i in range(4000)]
    chosen = [c for c in ids if is_evaluation_chunk(c, 0.2)]
    assert 0.17 < len(chosen) / len(ids) < 0.23
    assert chosen == [c for c in ids if is_evaluation_chunk(c, 0.2)]  # no seed, no state
    assert set(c for c in ids if is_evaluation_chunk(c, 0.1)) <= set(chosen)  # a smaller share is a subset


def test_questions_about_evaluation_chunks_judge_and_never_train(tmp_path):
    resolved = resolved_from(tmp_path, make_feedback_records())
    frozen = EvaluationSet().grown(resolved, 0.2)
    assert len(frozen)
    texts = chunk_texts()
    for key, question in frozen.questions.items():
        assert any(is_evaluation_chunk(texts[c], 0.2) for c in question.relevant)
    prepared = prepare_from_feedback(tmp_path / "feedback.jsonl", evaluation=EvaluationSet())
    trained = {question_key(p.query) for p in prepared.train.pairs}
    assert trained.isdisjoint(frozen.questions)
    assert {question_key(q) for q in prepared.held_out.queries.values()} == set(frozen.questions)
    assert set(prepared.held_out.corpus) >= set(chunk_texts())  # judged over every chunk given


def test_the_set_only_grows_and_a_later_run_keeps_its_questions(tmp_path):
    records = make_feedback_records()
    first = EvaluationSet().grown(resolved_from(tmp_path, records[:10], "a.jsonl"), 0.2)
    later = first.grown(resolved_from(tmp_path, records, "b.jsonl"), 0.2)
    assert set(first.questions) <= set(later.questions)
    assert later.added_since(first) == [k for k in later.questions if k not in first.questions]
    # a question in the set stays even when a new vote moves it to a chunk the rule would train on
    key, held = next(iter(later.questions.items()))
    train_chunk = next(c for c in HELP_CENTRE if not is_evaluation_chunk(chunk_texts()[c], 0.2))
    moved = [{**records[0], "message_id": "again", "question": held.question, "verdict": "like",
              "retrieved": [{"chunk_id": train_chunk, "text": chunk_texts()[train_chunk], "rank": 1, "cited": True}],
              "sources": {c: "irrelevant" for c in held.relevant}, "voted_at": "2026-01-01T00:00:00+00:00"}]
    again = later.grown(resolved_from(tmp_path, records + moved, "c.jsonl"), 0.2)
    assert key in again.questions
    prepared = prepare_from_feedback(write_jsonl(tmp_path / "d.jsonl", records + moved), evaluation=later)
    assert held.question.casefold() not in {p.query.casefold() for p in prepared.train.pairs}


def test_a_question_about_an_imported_questions_chunk_is_an_evaluation_question(tmp_path):
    train_chunk = next(c for c in HELP_CENTRE if not is_evaluation_chunk(chunk_texts()[c], 0.2))
    imported = EvaluationSet.from_ir(ir_dataset_from_dict(
        {"queries": {"x": "a question written by hand"}, "corpus": {train_chunk: "t"},
         "relevant_docs": {"x": [train_chunk]}}))
    grown = imported.grown(resolved_from(tmp_path, make_feedback_records()), 0.2)
    about = [q for q in grown.questions.values() if train_chunk in q.relevant and q.origin == "feedback"]
    assert about and grown.questions[question_key("a question written by hand")].origin == "import"


def test_ir_json_round_trip_and_fingerprint(tmp_path):
    ir = ir_dataset_from_dict(make_ir())
    frozen = EvaluationSet.from_ir(ir)
    assert len(frozen) == len(ir.queries)
    back = frozen.to_ir(chunk_texts())
    assert sorted(back.queries.values()) == sorted(ir.queries.values())
    assert EvaluationSet.from_ir(back).fingerprint() == frozen.fingerprint()
    assert json.dumps(frozen.describe())
    fewer = frozen.to_ir({c: t for c, t in chunk_texts().items() if c != "account-1"})
    assert len(fewer.queries) == len(ir.queries) - 2  # questions whose chunk is gone are left out
    bigger = frozen.merged(EvaluationSet.from_ir(ir_dataset_from_dict(
        {"queries": {"n": "new one"}, "corpus": {"account-1": "t"}, "relevant_docs": {"n": ["account-1"]}})))
    assert len(bigger) == len(frozen) + 1 and bigger.fingerprint() != frozen.fingerprint()


def test_records_in_memory_prepare_the_same_run_as_their_jsonl_and_a_grown_set_is_not_grown_again(tmp_path,
                                                                                                    monkeypatch):
    from training.feedback import parse_feedback_record

    records = make_feedback_records()
    from_file = prepare_from_feedback(write_jsonl(tmp_path / "f.jsonl", records), evaluation=EvaluationSet(),
                                      chunk_texts=chunk_texts())
    in_memory = [parse_feedback_record(r) for r in records]
    resolved = build_pairs_from_feedback(in_memory, chunk_texts())
    grown = EvaluationSet().grown(resolved, 0.2)
    monkeypatch.setattr(EvaluationSet, "grown", lambda *a, **k: (_ for _ in ()).throw(AssertionError("grown twice")))
    from_memory = prepare_from_feedback(resolved, evaluation=EvaluationSet(), grown=grown, chunk_texts=chunk_texts())
    assert from_memory.train.pairs == from_file.train.pairs and from_memory.held_out == from_file.held_out
    assert from_memory.stats == from_file.stats and from_memory.stats["evaluation_added"] == len(grown) > 0
    assert from_memory.evaluation is grown


def test_the_share_is_larger_until_the_gate_can_decide_and_lowering_it_later_keeps_the_sides(tmp_path):
    assert growth_share(0, 0.2, 0.5, 30) == growth_share(29, 0.2, 0.5, 30) == 0.5
    assert growth_share(30, 0.2, 0.5, 30) == 0.2
    assert growth_share(0, 0.4, 0.3, 30) == 0.4  # the start share only ever raises it
    assert growth_share(0, 0.2, None, 30) == 0.2
    records = make_feedback_records()
    early = EvaluationSet().grown(resolved_from(tmp_path, records[:10], "a.jsonl"), growth_share(0))
    assert set(early.questions) >= set(EvaluationSet().grown(resolved_from(tmp_path, records[:10], "b.jsonl"),
                                                              0.2).questions)
    # later growths use 0.2: every question about a chunk the early set holds still joins it,
    # so no chunk of the set is ever a training positive
    later = early.grown(resolved_from(tmp_path, records, "c.jsonl"), 0.2)
    prepared = prepare_from_feedback(write_jsonl(tmp_path / "d.jsonl", records), held_out_fraction=0.2,
                                     evaluation=early)
    held_chunks = later.chunks
    trained_chunks = {p.chunk_id for p in prepared.train.pairs if p.label == 1}
    assert held_chunks and trained_chunks and held_chunks.isdisjoint(trained_chunks)
    assert set(early.questions) <= set(later.questions)
