"""The label-free fusion weight: pseudo-queries the corpus makes of itself, and the weight fitted on them."""
import pytest

from training.fusion import FusionSettings
from training.label_free import (
    LABEL_FREE, fit_label_free_weight, is_label_free, neighbours_by_position, pseudo_query_ir, pseudo_query_legs,
)
from training.records import TrainingDataError

PROBLEMS = ["the invoice was paid late and a fee was charged", "the laptop screen flickers after the driver update",
            "the parcel went to the wrong address", "the password reset e-mail never arrived",
            "the projector in the meeting room has no cable"]
SUBJECTS = [("doctor", "physician"), ("car", "automobile"), ("lawyer", "attorney"), ("child", "kid"),
            ("boat", "ship"), ("teacher", "instructor"), ("shop", "store"), ("film", "movie"), ("road", "street"),
            ("house", "home")]
OBJECTS = [("stomach ache", "belly pain"), ("broken window", "shattered glass pane"), ("big dog", "large hound"),
           ("heavy rain", "downpour"), ("old coin", "antique money"), ("quick trip", "brief journey"),
           ("loud noise", "deafening sound"), ("tiny insect", "minute bug"), ("cold winter", "freezing season"),
           ("fast bicycle", "speedy bike")]


def coded_tickets(count: int = 104, start: int = 0) -> dict[str, str]:
    """Wording shared: each ticket names its own code twice, and a fifth of them tell the same problem. A
    sentence finds the rest of its ticket by the code (the lexical leg); by meaning, it matches the 20
    tickets of the same problem as well."""
    return {f"t{i:03d}": f"Ticket qv{i}k{i * 7} says {PROBLEMS[i % 5]}. "
                         f"The qv{i}k{i * 7} ticket was logged by the desk on a weekday."
            for i in range(start, start + count)}


def paraphrased_notes() -> dict[str, str]:
    """Wording paraphrased: a note's two sentences say the same with no word in common, and every word of
    a sentence is in other notes. Only meaning finds the rest of a note (the dense leg)."""
    return {f"n{i:02d}{j:02d}": f"The {sa} noticed the {oa} yesterday afternoon. "
                                f"A {sb} spotted a {ob} earlier today, apparently."
            for i, (sa, sb) in enumerate(SUBJECTS) for j, (oa, ob) in enumerate(OBJECTS)}


@pytest.fixture(scope="module")
def legs_models(base_model_path):
    from plugins import load_embeddings
    from plugins.lexical import load_lexical

    return load_embeddings(base_model_path), load_lexical("bm25-en")


def test_each_chunk_gets_one_sentence_as_query_and_is_its_answer_without_it():
    chunks = coded_tickets(10)
    pseudo = pseudo_query_ir(chunks)
    assert pseudo.ir.corpus == chunks and pseudo.questions == 10
    for qid, question in pseudo.ir.queries.items():
        (cid,) = pseudo.ir.relevant_docs[qid]
        assert question in chunks[cid] and question not in pseudo.contexts[qid]
        assert pseudo.contexts[qid] and set(pseudo.contexts[qid].split()) <= set(chunks[cid].split())
    assert pseudo_query_ir(chunks).ir.queries == pseudo.ir.queries  # seeded: the same every time
    # bounded: a seeded sample of chunks is both the corpus and the source of the queries
    sample = pseudo_query_ir(coded_tickets(50), max_questions=20)
    assert len(sample.ir.corpus) == sample.questions == 20
    assert {c for cids in sample.ir.relevant_docs.values() for c in cids} == set(sample.ir.corpus)


def test_neighbours_are_the_chunks_next_to_one_in_its_document():
    rows = [("a0", "A", 0), ("a1", "A", 1), ("a2", "A", 2), ("a4", "A", 4), ("b0", "B", 0), ("c0", "C", 0),
            ("c1", "C", 1)]
    assert neighbours_by_position(rows) == {"a0": ["a1"], "a1": ["a0", "a2"], "a2": ["a1"], "c0": ["c1"], "c1": ["c0"]}
    assert neighbours_by_position(rows, reach=2)["a2"] == ["a1", "a0", "a4"]  # nearest first, before after; no a3
    assert neighbours_by_position(rows, reach=0) == {}


def test_a_pseudo_query_counts_its_neighbours_relevant_and_scores_only_its_own_chunk_without_the_sentence(
        legs_models):
    chunks = coded_tickets(12)
    ids = list(chunks)
    neighbours = neighbours_by_position((cid, f"doc{i // 3}", i % 3) for i, cid in enumerate(ids))
    pseudo = pseudo_query_ir(chunks, neighbours=neighbours)
    assert pseudo.ir.queries == pseudo_query_ir(chunks).ir.queries  # the same sentences as without neighbours
    for qid in pseudo.ir.queries:
        own, *near = pseudo.ir.relevant_docs[qid]
        assert near == neighbours[own]  # t000 → [t001]; t001 → [t000, t002]; never across documents
    legs = pseudo_query_legs(pseudo, *legs_models)
    first = next(iter(pseudo.ir.queries))
    assert legs.relevant[first] == frozenset(pseudo.ir.relevant_docs[first])
    # bounded: the sampled chunks are the queries' sources, the corpus adds their neighbours
    many = coded_tickets(60)
    sample = pseudo_query_ir(many, max_questions=20,
                             neighbours=neighbours_by_position((c, f"d{i // 3}", i % 3) for i, c in enumerate(many)))
    sources = {cids[0] for cids in sample.ir.relevant_docs.values()}
    assert sample.questions == 20 and len(sources) == 20 and set(sample.ir.corpus) > sources
    assert {c for cids in sample.ir.relevant_docs.values() for c in cids} <= set(sample.ir.corpus)


def test_shared_wording_moves_the_weight_toward_the_lexical_leg(legs_models):
    record = fit_label_free_weight(coded_tickets(), *legs_models, base=FusionSettings(weight=0.5))
    scores = record["on_pseudo_queries"]
    assert scores["lexical"] > scores["dense"] + 0.3
    assert record["weight"] < 0.5 and scores["fitted"] > scores["prior"]
    assert record["origin"] == "label-free: 104 corpus pseudo-queries" and is_label_free(record)
    assert (record["kind"], record["chunks"], record["questions"], record["method"], record["normalise"]) == (
        LABEL_FREE, 104, 104, "convex", "minmax")
    assert set(record["curve"]) >= {"0", "0.5", "1"} and record["fitted_at"] and record["with_neighbours"] == 0


def test_paraphrased_wording_moves_the_weight_toward_the_dense_leg(legs_models):
    record = fit_label_free_weight(paraphrased_notes(), *legs_models, base=FusionSettings(weight=0.5))
    scores = record["on_pseudo_queries"]
    assert scores["dense"] > scores["lexical"] + 0.3
    assert record["weight"] > 0.5 and scores["fitted"] > scores["prior"]


def test_too_few_pseudo_queries_or_no_weight_to_fit_is_refused():
    with pytest.raises(TrainingDataError, match="99 pseudo-queries from 99 chunks; at least 100"):
        fit_label_free_weight(coded_tickets(99), dense=None, lexical=None)
    with pytest.raises(TrainingDataError, match="FUSION_METHOD=rrf has no weight to fit"):
        fit_label_free_weight(coded_tickets(), dense=None, lexical=None, base=FusionSettings(method="rrf"))
    assert not is_label_free({"weight": 0.3, "origin": "docstune tune"}) and not is_label_free(None)
