from tests.training.conftest import chunk_texts
from training.records import SyntheticQuery
from training.synthetic import (
    InverseClozeGenerator,
    generate_synthetic_queries,
    parse_questions,
    synthetic_ir_dataset,
)


def test_the_offline_generator_uses_a_sentence_of_the_chunk_as_query_and_removes_it_from_the_context():
    chunks = chunk_texts()
    queries = InverseClozeGenerator(questions_per_chunk=2, seed=3, remove_probability=1.0).generate(chunks, False)
    assert len(queries) == 2 * len(chunks)
    for q in queries:
        assert isinstance(q, SyntheticQuery) and q.method == "inverse_cloze"
        assert q.question in chunks[q.chunk_id] and q.question not in q.context


def test_the_offline_generator_is_reproducible_per_chunk():
    chunks = chunk_texts()
    first = InverseClozeGenerator(seed=1).generate(chunks, False)
    again = InverseClozeGenerator(seed=1).generate({"billing-1": chunks["billing-1"]}, False)
    assert [q for q in first if q.chunk_id == "billing-1"] == again


def test_without_a_key_the_offline_method_is_used_and_written_as_ir_json():
    chunks = chunk_texts()
    queries = generate_synthetic_queries(chunks, questions_per_chunk=1, show_progress=False)
    ir = synthetic_ir_dataset(chunks, queries).validate()
    assert {q.method for q in queries} == {"inverse_cloze"} and len(ir.queries) == len(chunks)


def test_numbering_and_bullets_are_stripped_from_an_llms_questions():
    assert parse_questions("1. How much is Pro?\n- Is VAT included?\n\n3) What?\nextra line here", 2) == [
        "How much is Pro?", "Is VAT included?"]
