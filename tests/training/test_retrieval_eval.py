"""Evaluating a retrieval pipeline: the legs, the metrics, fitting the fusion weight, the IDF."""
from __future__ import annotations

import math
import uuid

import pytest

from training.fusion import FusionSettings
from training.records import IRDataset
from training.retrieval_eval import (
    WEIGHT_GRID,
    AdaptiveFusion,
    RetrievalLegs,
    build_legs,
    corpus_idf,
    encode_dense_leg,
    encode_lexical_leg,
    evaluate_pipeline,
    fit_fusion_weight,
    fit_weight,
    peakedness,
    qdrant_idf,
    ranking_metrics,
    split_queries,
)

CORPUS = {
    "refund": "You can get a refund within 14 days of a payment; the money returns to your card.",
    "password": "Reset a forgotten password from the sign-in page; the link expires after one hour.",
    "sync": "Notes sync between devices every thirty seconds while the app is open.",
    "error": "Error E4471 means the server rejected an expired access token; sign in again.",
}
QUERIES = {
    "q-money": "Can I have my money back?",
    "q-login": "I cannot remember how to log in",
    "q-devices": "Do my phone and laptop stay up to date?",
    "q-code": "What does E4471 mean?",
}
RELEVANT = {"q-money": ["refund"], "q-login": ["password"], "q-devices": ["sync"], "q-code": ["error"]}

# the dense encoder's input, hand-made: topics as axes (billing, account, sync, errors). It
# "understands" paraphrases (q-login is about the password chunk) but not the error code, which
# it reads as a sync question; BM25 has the opposite strengths.
VECTORS = {
    CORPUS["refund"]: [1.0, 0.0, 0.0, 0.0],
    CORPUS["password"]: [0.0, 1.0, 0.0, 0.1],
    CORPUS["sync"]: [0.0, 0.0, 1.0, 0.0],
    CORPUS["error"]: [0.0, 0.3, 0.0, 1.0],
    QUERIES["q-money"]: [1.0, 0.0, 0.0, 0.0],
    QUERIES["q-login"]: [0.0, 1.0, 0.0, 0.0],  # password 0.995 > error 0.29
    QUERIES["q-devices"]: [0.0, 0.0, 1.0, 0.0],
    QUERIES["q-code"]: [0.2, 0.0, 1.0, 0.1],  # sync, refund, error, password
}


class TableEncoder:
    """An embedding backend whose vectors come from a table (embed_documents / embed_query)."""

    name = "table"

    def embed_documents(self, texts):
        return [VECTORS[t] for t in texts]

    def embed_query(self, text):
        return VECTORS[text]


class TableSentenceTransformer:
    """The other accepted shape: a SentenceTransformer-like ``encode`` (numpy rows, not normalised)."""

    def encode(self, texts, batch_size=32, convert_to_numpy=True):
        import numpy as np

        return np.asarray([[3.0 * x for x in VECTORS[t]] for t in texts])


def ir() -> IRDataset:
    return IRDataset(queries=dict(QUERIES), corpus=dict(CORPUS),
                     relevant_docs={q: list(c) for q, c in RELEVANT.items()})


@pytest.fixture(scope="module")
def legs() -> RetrievalLegs:
    return build_legs(ir(), dense=TableEncoder(), lexical="bm25-en")


# -- metrics -------------------------------------------------------------------------------
def test_metrics_of_one_ranking_by_hand():
    assert ranking_metrics(["x", "a", "y"], {"a"}) == {
        "accuracy@1": 0.0, "accuracy@3": 1.0, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": 0.5, "ndcg@10": pytest.approx(1 / math.log2(3))}
    both = ranking_metrics(["a", "x", "b"], {"a", "b"})
    assert both["mrr@10"] == 1.0
    assert both["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))


def test_a_relevant_chunk_below_rank_ten_counts_as_a_miss():
    ranking = [f"x{i}" for i in range(10)] + ["a"]
    assert ranking_metrics(ranking, {"a"}) == {"accuracy@1": 0.0, "accuracy@3": 0.0, "accuracy@5": 0.0, "accuracy@10": 0.0, "mrr@10": 0.0, "ndcg@10": 0.0}
    assert ranking_metrics(ranking[4:], {"a"})["accuracy@10"] == 1.0
    assert ranking_metrics(ranking[4:], {"a"})["accuracy@5"] == 0.0


def test_dense_only_ranks_by_cosine_and_averages_per_query(legs):
    assert [cid for cid, _ in legs.dense["q-code"]] == ["sync", "refund", "error", "password"]
    result = evaluate_pipeline(legs, FusionSettings(mode="dense"))
    assert result.per_query["q-money"]["mrr@10"] == 1.0
    assert result.per_query["q-code"]["mrr@10"] == pytest.approx(1 / 3)
    assert result.mean["mrr@10"] == pytest.approx((1 + 1 + 1 + 1 / 3) / 4)
    assert result.mean["accuracy@1"] == 0.75


def test_a_sentence_transformer_and_a_backend_give_the_same_dense_leg(legs):
    leg = encode_dense_leg(TableSentenceTransformer(), ir())
    assert [[c for c, _ in leg[q]] for q in sorted(leg)] == [[c for c, _ in legs.dense[q]] for q in sorted(leg)]
    assert leg["q-money"][0][1] == pytest.approx(1.0)  # cosine: rows are normalised


# -- the lexical leg -------------------------------------------------------------------------
def test_an_error_code_only_bm25_finds_is_found_by_the_hybrid(legs):
    lexical = evaluate_pipeline(legs, FusionSettings(mode="lexical"))
    dense = evaluate_pipeline(legs, FusionSettings(mode="dense"))
    hybrid = evaluate_pipeline(legs, FusionSettings(method="convex", weight=0.5))
    assert legs.lexical["q-code"][0][0] == "error"
    assert lexical.per_query["q-code"]["accuracy@1"] == 1.0 and dense.per_query["q-code"]["accuracy@1"] == 0.0
    assert hybrid.per_query["q-code"]["accuracy@1"] == 1.0
    # and the paraphrase only the dense leg understands stays found
    assert lexical.per_query["q-login"]["accuracy@10"] == 0.0
    assert hybrid.per_query["q-login"]["accuracy@1"] == 1.0
    assert hybrid.mean["mrr@10"] == 1.0 > max(dense.mean["mrr@10"], lexical.mean["mrr@10"])


def test_a_chunk_sharing_no_token_with_the_query_is_no_lexical_candidate(legs):
    assert legs.lexical["q-login"] == []  # "log in" / "remember" appear in no chunk


def test_the_python_idf_scores_equal_qdrant_edges(tmp_path):
    import qdrant_edge as edge

    from plugins.lexical import load_lexical

    encoder = load_lexical("bm25-en")
    corpus = dict(CORPUS, extra="The refund of a refund: refunds for sync errors and payment errors.")
    ids = {cid: str(uuid.uuid5(uuid.NAMESPACE_URL, cid)) for cid in corpus}
    vectors = dict(zip(corpus, encoder.embed_documents(list(corpus.values()))))
    shard = edge.EdgeShard.create(str(tmp_path / "shard"), edge.EdgeConfig(
        vectors={"dense": edge.EdgeVectorParams(size=2, distance=edge.Distance.Cosine)},
        sparse_vectors={"lexical": edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)}))
    points = [edge.Point(ids[cid], {"dense": [1.0, 0.0], "lexical": edge.SparseVector(v.indices, v.values)})
              for cid, v in vectors.items()]
    # points without a sparse vector do not count in Qdrant's N
    points += [edge.Point(str(uuid.uuid4()), {"dense": [0.0, 1.0]}) for _ in range(5)]
    shard.update(edge.UpdateOperation.upsert_points(points))
    queries = {"a": "refund payment errors", "b": "sync error E4471", "c": "password link expires sign in"}
    data = IRDataset(queries=queries, corpus=corpus, relevant_docs={q: ["extra"] for q in queries})
    leg = encode_lexical_leg(encoder, data, query_ids=list(queries))
    by_id = {v: k for k, v in ids.items()}
    try:
        for qid, text in queries.items():
            query = encoder.embed_query(text)
            found = shard.query(edge.QueryRequest(
                query=edge.Query.Nearest(edge.SparseVector(query.indices, query.values), using="lexical"),
                limit=50, with_payload=False, with_vector=False))
            engine = {by_id[str(p.id)]: p.score for p in found}
            ours = dict(leg[qid])
            assert engine.keys() == ours.keys() and len(ours) >= 2
            for cid, score in ours.items():
                assert score == pytest.approx(engine[cid], abs=1e-4), (qid, cid)
    finally:
        shard.close()


def test_qdrant_idf_formula():
    assert qdrant_idf(1, 10) == pytest.approx(math.log(1 + 9.5 / 1.5))
    doc = type("Doc", (), {"indices": [7, 7, 8], "values": [1.0, 1.0, 1.0]})
    idf = corpus_idf([doc, type("Doc", (), {"indices": [8], "values": [1.0]})])
    assert idf == {7: pytest.approx(math.log(1 + 1.5 / 1.5)), 8: pytest.approx(math.log(1 + 0.5 / 2.5))}


# -- fitting the weight ------------------------------------------------------------------------
def hand_made_legs() -> RetrievalLegs:
    # q1 needs the dense share above 2/7, q2 below 0.9 (convex, max-normalised): 0.3..0.85 win both
    return RetrievalLegs(
        relevant={"q1": frozenset({"a"}), "q2": frozenset({"d"})},
        dense={"q1": [("a", 1.0), ("b", 0.5)], "q2": [("c", 1.0), ("d", 0.9)]},
        lexical={"q1": [("b", 1.0), ("a", 0.8)], "q2": [("d", 1.0), ("c", 0.1)]},
    )


def test_fit_fusion_weight_picks_the_weight_that_wins_and_ties_go_to_the_prior():
    legs = hand_made_legs()
    fitted = fit_fusion_weight(legs, "convex", normalise="max", prior=0.5)
    assert fitted.weight == 0.5 and fitted.best == 1.0
    assert all(fitted.curve[w] == 1.0 for w in WEIGHT_GRID if 0.3 <= w <= 0.85)
    assert fitted.curve[0.25] == fitted.curve[0.95] == 0.75
    assert fit_fusion_weight(legs, "convex", prior=0.0).weight == 0.3
    assert fit_fusion_weight(legs, "convex", prior=1.0).weight == 0.85
    assert fitted.settings == FusionSettings(method="convex", normalise="max", weight=0.5)


def test_a_flat_curve_keeps_the_prior():
    fitted = fit_fusion_weight(hand_made_legs(), "rrf", prior=0.4)  # rrf ignores the weight
    assert fitted.weight == 0.4
    assert len(set(fitted.curve.values())) == 1


def test_fitting_on_some_queries_only(legs):
    fit, held_out = split_queries(legs.query_ids, seed=3)
    assert sorted(fit + held_out) == legs.query_ids and not set(fit) & set(held_out)
    assert split_queries(legs.query_ids, seed=3) == (fit, held_out)
    fitted = fit_fusion_weight(legs, "convex", query_ids=["q-code"], prior=1.0)
    # the lexical leg alone finds the code: every weight up to the fitted one does
    assert fitted.curve[0.0] == 1.0 and fitted.best == 1.0
    assert evaluate_pipeline(legs, FusionSettings(mode="dense"), query_ids=["q-code"]).mean["mrr@10"] < 1.0


# -- the adaptive weight -----------------------------------------------------------------------
def test_peakedness_is_a_scale_free_z_score():
    assert peakedness([3.0, 1.0, 1.0, 1.0]) == pytest.approx(peakedness([0.9, 0.3, 0.3, 0.3]))
    assert peakedness([1.0, 1.0]) == 0.0 and peakedness([5.0]) is None


def test_the_adaptive_fusion_leans_on_the_more_peaked_leg():
    fusion = AdaptiveFusion(prior=0.5)
    peaked, flat = [("a", 0.9), ("b", 0.3), ("c", 0.3), ("d", 0.2)], [("e", 5.0), ("b", 4.9), ("c", 4.8), ("a", 1.0)]
    assert fusion.weight_for(peaked, flat) > 0.5 > fusion.weight_for(flat, peaked)
    assert fusion.weight_for(peaked, peaked) == pytest.approx(0.5)
    assert AdaptiveFusion(prior=0.2).weight_for(peaked, peaked) == pytest.approx(0.2)
    assert fusion.weight_for(peaked, []) == 1.0 and fusion.weight_for([], flat) == 0.0
    assert fusion(peaked, flat, k=1)[0].chunk_id == "a"


def test_the_adaptive_fusion_is_evaluated_and_fitted_like_any_fusion(legs):
    result = evaluate_pipeline(legs, AdaptiveFusion())
    assert result.label == "adaptive:minmax:prior 0.5"
    # BM25 has a single candidate for the code (peakedness unknown): the prior weight, and it is found
    assert AdaptiveFusion().weight_for(legs.dense["q-code"], legs.lexical["q-code"]) == 0.5
    assert result.per_query["q-code"]["accuracy@1"] == 1.0
    fitted = fit_weight(legs, lambda w: AdaptiveFusion(prior=w), prior=0.5)
    assert isinstance(fitted.fusion, AdaptiveFusion) and fitted.fusion.prior == fitted.weight


def test_a_fusion_needs_the_legs_it_fuses():
    legs = RetrievalLegs(relevant={"q": frozenset({"a"})}, dense={"q": [("a", 1.0)]})
    with pytest.raises(ValueError, match="lexical leg"):
        evaluate_pipeline(legs, FusionSettings(method="convex"))
    assert evaluate_pipeline(legs, FusionSettings(mode="dense")).mean["accuracy@1"] == 1.0
