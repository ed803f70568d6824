"""Which chunks get synthetic questions in a round with a budget (``training.pipeline.choose_synthetic_chunks``)."""
import pytest

from training.pipeline import (
    PROBES_PER_CHUNK, SyntheticOptions, choose_synthetic_chunks, own_chunk_ranks, probe_candidates, probe_questions,
)
from training.records import TrainingDataError

# a tiny corpus: two near-duplicate pairs the model confuses (c1/c2 and c5/c6), the rest distinct
CHUNKS = {
    "c0": "The heron of pond seven eats frogs at dawn. It nests in the reeds on the east bank.",
    "c1": "Refunds are paid within 14 days of the request. The money goes back to the card used.",
    "c2": "Refunds are paid within 14 days of the request. The money goes back to the bank account.",
    "c3": "The lighthouse lamp is cleaned every Tuesday morning. A keeper logs each cleaning in a book.",
    "c4": "Passwords must be rotated every ninety days. Old passwords cannot be used again for a year.",
    "c5": "The printer on floor two jams when the paper is damp. Store the paper in the dry cupboard.",
    "c6": "The printer on floor three jams when the paper is damp. Store the paper in the dry cupboard.",
    "c7": "Invoices are sent on the first working day of each month. They list every seat in use.",
}


def test_the_budget_goes_to_poorly_ranked_chunks_near_the_ratings_first_and_is_deterministic():
    ranks = {"c0": 1, "c1": 2, "c2": None, "c3": 1, "c4": 1, "c5": 3, "c6": 1, "c7": 1}

    chosen = choose_synthetic_chunks(CHUNKS, 3, ranks=ranks, near_rated={"c1", "c3"})

    # c1: poorly ranked and shown with a rated answer; then c2 (not found: the worst), then c5 (rank 3)
    assert chosen == ["c1", "c2", "c5"]
    assert choose_synthetic_chunks(list(reversed(CHUNKS)), 3, ranks=ranks, near_rated={"c3", "c1"}) == chosen
    # a bigger budget adds the near-rated chunk the model already ranks first, then the rest by a stable hash
    assert choose_synthetic_chunks(CHUNKS, 4, ranks=ranks, near_rated={"c1", "c3"}) == ["c1", "c2", "c3", "c5"]
    assert len(choose_synthetic_chunks(CHUNKS, 6, ranks=ranks)) == 6


def test_within_the_budget_every_chunk_gets_questions_without_a_probe():
    assert choose_synthetic_chunks(CHUNKS, 8) == sorted(CHUNKS)
    assert choose_synthetic_chunks(CHUNKS, 100, ranks={"c1": None}) == sorted(CHUNKS)


def test_the_probe_finds_the_chunks_a_model_ranks_below_their_own_question():
    probes = probe_questions(CHUNKS)
    assert set(probes) == set(CHUNKS)  # one sentence of each chunk
    assert all(probes[cid] in CHUNKS[cid] for cid in probes)
    assert probe_questions(CHUNKS) == probes  # seeded by the chunk id: the same each round
    # a ranking where c2's probe finds c1 first and c5's finds nothing of its own
    leg = {cid: [(cid, 0.9), ("c7", 0.1)] for cid in CHUNKS}
    leg["c2"] = [("c1", 0.95), ("c2", 0.94)]
    leg["c5"] = [("c6", 0.9)]

    ranks = own_chunk_ranks(leg, probes)

    assert ranks["c2"] == 2 and ranks["c5"] is None and ranks["c0"] == 1
    assert choose_synthetic_chunks(CHUNKS, 2, ranks=ranks) == ["c2", "c5"]


def test_a_real_model_ranks_the_near_duplicates_poorly(base_model_path):
    from training.finetune import load_model
    from training.records import IRDataset
    from training.retrieval_eval import encode_dense_leg

    probes = probe_questions(CHUNKS)
    # the probes of near-duplicate chunks hit both twins: the chunks questions would teach apart
    model = load_model(base_model_path)
    ir = IRDataset(dict(probes), dict(CHUNKS), {cid: [cid] for cid in probes})
    ranks = own_chunk_ranks(encode_dense_leg(model, ir, query_ids=list(probes)), probes)

    poor = {cid for cid, rank in ranks.items() if rank != 1}
    assert poor and poor <= {"c1", "c2", "c5", "c6"}
    assert set(choose_synthetic_chunks(CHUNKS, len(poor), ranks=ranks)) == poor


def test_synthetic_options_from_a_request_win_over_the_settings_and_bad_ones_are_refused():
    settings = SyntheticOptions(True, 300)
    assert SyntheticOptions.from_params({}).over(settings) == settings
    assert SyntheticOptions.from_params({"include_synthetic": False, "synthetic_chunks": 7}).over(settings) == \
        SyntheticOptions(False, 7)
    for bad in ({"include_synthetic": "yes"}, {"synthetic_chunks": 0}, {"synthetic_chunks": 2.5},
                {"synthetic_chunks": True}):
        with pytest.raises(TrainingDataError):
            SyntheticOptions.from_params(bad)


def test_a_large_corpus_probes_a_stable_sample_with_every_chunk_near_a_rated_answer():
    candidates = [f"doc{d}-chunk{c}" for d in range(50) for c in range(100)]  # 5,000 chunks
    near = {"doc7-chunk3", "doc49-chunk99"}
    probed = probe_candidates(candidates, 10, near)
    assert len(probed) == PROBES_PER_CHUNK * 10 and near <= set(probed)
    assert probed == probe_candidates(list(reversed(candidates)), 10, near)  # no randomness, no order
    assert len({cid.split("-")[0] for cid in probed}) > 30  # spread over the documents
    assert probe_candidates(candidates[:70], 10) == sorted(candidates[:70])  # under the cap: all of them
