"""End to end: feedback JSONL → checkpoint → evaluation → gate → registry, through the library API."""
import json

from tests.training.conftest import make_ir
from training.evaluate import evaluate_pipelines
from training.fusion import FusionSettings
from training.finetune import FinetuneConfig
from training.gate import GateConfig, judge
from training.irjson import ir_dataset_from_dict
from training.pipeline import prepare_from_feedback, prepare_from_ir, run_training
from training.records import TrainingSet
from training.registry import ModelRegistry
from training.split import split_ir_by_chunk

TINY = dict(epochs=1, batch_size=8, max_seq_length=64, show_progress=False)


def test_feedback_becomes_a_registered_version_judged_on_held_out_questions_only(tmp_path, feedback_file, base_model_path):
    prepared = prepare_from_feedback(feedback_file, seed=42)
    train_questions = {p.query for p in prepared.train.pairs}
    assert train_questions.isdisjoint(prepared.held_out.queries.values())
    # the measured feedback defaults (docs/training.md): mnrl, 1 epoch at 5e-5, one hardest negative a question
    assert prepared.default_loss == "mnrl" and prepared.train.triplets
    config = prepared.finetune_config()
    assert (config.loss, config.epochs, config.learning_rate) == ("mnrl", 1, 5e-5)
    assert prepared.finetune_config(loss="cosine").learning_rate == 2e-5  # another loss keeps its own rate
    assert len(prepared.train.triplets) == len({(t.query, t.positive_id) for t in prepared.train.triplets})

    registry = ModelRegistry(tmp_path / "models")
    outcome = run_training(prepared, base_model=base_model_path, work_root=tmp_path / "models" / ".work",
                           registry=registry, config=FinetuneConfig(loss="online_contrastive", **TINY),
                           base_model_name="all-MiniLM-L6-v2")
    version = outcome.version
    folder = tmp_path / "models" / version.version
    assert {p.name for p in folder.iterdir()} == {"version.json", f"docstune-{version.version}", "metrics.json",
                                                  "report.md", "hit_rate.png"}
    assert (folder / "hit_rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["query_ids"] == sorted(prepared.held_out.queries)
    assert list(metrics["metrics"]) == ["active · dense", "candidate · dense"]  # no retrieval given: dense
    for name in ("accuracy@1", "accuracy@3", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10"):
        assert 0 <= metrics["metrics"]["candidate · dense"][name] <= 1
    # per question, paired: what the gate compared
    assert set(metrics["per_query"]["candidate · dense"]) == set(prepared.held_out.queries)
    assert metrics["gate"]["questions"] == len(prepared.held_out.queries)
    assert metrics["gate"]["status"] == outcome.verdict.status
    assert version.status == ("candidate" if outcome.verdict.passed else "rejected")
    assert version.data_stats["held_out_questions"] == len(prepared.held_out.queries)
    assert "| mrr@10 |" in (folder / "report.md").read_text()
    card = (folder / f"docstune-{version.version}" / "README.md").read_text()
    assert "online_contrastive" in card and "Held-out retrieval metrics" in card
    assert not list((tmp_path / "models" / ".work").iterdir())


def test_the_gate_rejects_a_model_trained_on_shuffled_labels(tmp_path, base_model_path):
    ir = ir_dataset_from_dict(make_ir())
    split = split_ir_by_chunk(ir, seed=42)
    pairs = split.train.positive_pairs()
    texts = [t for _, _, t in pairs]
    shuffled = TrainingSet(positives=[(q, texts[(i + 5) % len(texts)]) for i, (q, _, _) in enumerate(pairs)])
    from training.finetune import finetune

    finetune(base_model_path, shuffled, tmp_path / "worse",
             FinetuneConfig(loss="mnrl", learning_rate=1e-3, **{**TINY, "epochs": 3}))
    run = evaluate_pipelines({"base": base_model_path, "candidate": str(tmp_path / "worse")}, split.held_out,
                             [FusionSettings(mode="dense")])
    base, candidate = run.per_query["base · dense"], run.per_query["candidate · dense"]
    assert run.metrics["candidate · dense"]["mrr@10"] < run.metrics["base · dense"]["mrr@10"]
    verdict = judge(base, candidate, GateConfig(min_improvement=0.0, min_questions=1))
    assert verdict.status in ("worse", "not_enough_evidence") and "mrr@10" in verdict.reason
    assert verdict.losses > verdict.wins

    registry = ModelRegistry(tmp_path / "models")
    version = registry.register(tmp_path / "worse", base_model="base", gate=verdict.to_dict())
    assert registry.status_of(version) == "rejected"


def test_ir_training_holds_out_by_chunk(ir_file):
    from training.irjson import load_ir_json

    prepared = prepare_from_ir(load_ir_json(ir_file), held_out_fraction=0.25, seed=1)
    assert prepared.default_loss == "mnrl"
    assert {q for q, _ in prepared.train.positives}.isdisjoint(prepared.held_out.queries.values())
    held_texts = {prepared.held_out.corpus[c] for cids in prepared.held_out.relevant_docs.values() for c in cids}
    assert held_texts.isdisjoint(prepared.mining_corpus)


def test_each_kind_of_data_trains_with_its_measured_defaults_and_an_option_given_wins():
    from tests.training.conftest import chunk_texts
    from training.finetune import SYNTHETIC_DEFAULTS
    from training.pipeline import prepare_from_synthetic

    synthetic = prepare_from_synthetic(chunk_texts(), seed=42, show_progress=False)
    config = synthetic.finetune_config()
    assert (config.loss, config.epochs, config.learning_rate) == (
        "mnrl", SYNTHETIC_DEFAULTS["epochs"], SYNTHETIC_DEFAULTS["learning_rate"])
    assert synthetic.mine_hard_negatives() is SYNTHETIC_DEFAULTS.get("mine_hard_negatives", True)
    given = synthetic.finetune_config(epochs=2, learning_rate=None, batch_size=4)
    assert (given.epochs, given.learning_rate, given.batch_size) == (2, SYNTHETIC_DEFAULTS["learning_rate"], 4)
    assert synthetic.mine_hard_negatives(False) is False and synthetic.mine_hard_negatives(True) is True

    real = prepare_from_ir(ir_dataset_from_dict(make_ir()), seed=42)
    assert (real.finetune_config().epochs, real.finetune_config().learning_rate) == (FinetuneConfig.epochs, 1e-4)
    assert real.finetune_config(loss="cosine").learning_rate == 2e-5 and real.mine_hard_negatives() is True
