"""`docstune eval --retrieval`: pipelines (model × dense/lexical/hybrid) side by side in one report."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from application.commands.training import eval_command
from training.evaluate import EvaluationRun, markdown_report, plot_hit_rate
from training.fusion import FusionSettings, parse_retrieval_spec

MODEL = "all-MiniLM-L6-v2"  # the bundled model, by the name the embedding plugins know
ACCEPTED = "use dense, lexical, hybrid, or hybrid:<weight>"


# -- parse_retrieval_spec ---------------------------------------------------------------------
BASE = FusionSettings(mode="hybrid", method="convex", weight=0.3, normalise="max", candidates=20)


@pytest.mark.parametrize("spec, mode, weight", [
    ("dense", "dense", 0.3), ("lexical", "lexical", 0.3), ("hybrid", "hybrid", 0.3),
    ("hybrid:0.7", "hybrid", 0.7), ("hybrid:0", "hybrid", 0.0), ("hybrid:1", "hybrid", 1.0), (" Hybrid:.25 ", "hybrid", 0.25),
])
def test_parse_retrieval_spec_keeps_the_base_settings_it_does_not_name(spec, mode, weight):
    parsed = parse_retrieval_spec(spec, BASE)
    assert (parsed.mode, parsed.weight) == (mode, weight)
    assert (parsed.method, parsed.normalise, parsed.rrf_k, parsed.candidates) == ("convex", "max", 60, 20)


def test_hybrid_means_the_base_method_even_when_the_base_mode_is_dense():
    base = FusionSettings(mode="dense", method="rrf", rrf_k=10)
    assert parse_retrieval_spec("hybrid", base) == FusionSettings(mode="hybrid", method="rrf", rrf_k=10)


@pytest.mark.parametrize("spec", ["foo", "hybrid:1.5", "hybrid:-0.1", "hybrid:x", "hybrid:", "hybrid:nan",
                                  "dense:0.2", "lexical:1", "", "hybrid:0.5:1"])
def test_parse_retrieval_spec_rejects_anything_else_in_one_line_naming_the_accepted_forms(spec):
    with pytest.raises(ValueError) as error:
        parse_retrieval_spec(spec, BASE)
    message = str(error.value)
    assert "\n" not in message and repr(spec) in message and ACCEPTED in message


# -- the report with labels that lack some metrics --------------------------------------------
def _mixed_run() -> EvaluationRun:
    full = {"accuracy@1": 0.5, "accuracy@3": 0.6, "accuracy@5": 0.7, "accuracy@10": 0.8, "precision@1": 0.5,
            "recall@10": 0.8, "mrr@10": 0.55, "ndcg@10": 0.6, "map@100": 0.56}
    pipeline = {"accuracy@1": 0.6, "accuracy@3": 0.7, "accuracy@5": 0.8, "accuracy@10": 0.9, "mrr@10": 0.65,
                "ndcg@10": 0.7}
    return EvaluationRun({"model": full, "model · hybrid:convex-minmax:0.5": pipeline},
                         {"model": "/m", "model · hybrid:convex-minmax:0.5": "/m"}, ["q1", "q2"], 10)


def test_markdown_report_shows_a_dash_for_a_missing_metric_and_its_delta(tmp_path):
    report = markdown_report(_mixed_run())
    assert "| map@100 | 0.5600 | — | — |" in report
    assert "| precision@1 | 0.5000 | — | — |" in report
    assert "| mrr@10 | 0.5500 | 0.6500 | +0.1000 |" in report
    pipelines_only = EvaluationRun({"a · dense": _mixed_run().metrics["model · hybrid:convex-minmax:0.5"]},
                                   {"a · dense": "/m"}, ["q1"], 3)
    assert "map@100" not in markdown_report(pipelines_only)  # a row no label has is left out
    assert plot_hit_rate(_mixed_run(), tmp_path / "plot.png").stat().st_size > 0


def test_plot_hit_rate_skips_missing_points(tmp_path):
    run = EvaluationRun({"a": {"accuracy@1": 0.2, "accuracy@10": 0.9}, "b": {"mrr@10": 0.1}}, {"a": "a", "b": "b"},
                        ["q"], 1)
    assert plot_hit_rate(run, tmp_path / "plot.png").is_file()


# -- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def plain_settings(data_dir, monkeypatch):
    for name in ("RETRIEVAL_MODE", "FUSION_METHOD", "FUSION_WEIGHT", "FUSION_NORMALISE", "FUSION_RRF_K",
                 "FUSION_CANDIDATES", "LEXICAL_TOKENIZER", "EMBEDDINGS_DEVICE"):
        monkeypatch.delenv(name, raising=False)
    return data_dir


def test_eval_retrieval_reports_every_pipeline_side_by_side(plain_settings, ir_file, base_model_path, tmp_path):
    from training.evaluate import evaluate_models
    from training.irjson import load_ir_json

    out = tmp_path / "eval"
    result = CliRunner().invoke(eval_command, ["--model", MODEL, "--dataset", ir_file, "--out", str(out),
                                               "--retrieval", "dense", "--retrieval", "lexical",
                                               "--retrieval", "hybrid:0.5"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    labels = [f"{MODEL} · dense", "lexical (bm25-en)", f"{MODEL} · hybrid:convex-minmax:0.5"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["metrics"]) == labels and len(metrics["query_ids"]) == 32 and metrics["corpus_size"] == 16
    for label in labels:
        assert 0.0 <= metrics["metrics"][label]["mrr@10"] <= 1.0
        assert 0.0 <= metrics["metrics"][label]["accuracy@1"] <= metrics["metrics"][label]["accuracy@10"] <= 1.0
    assert metrics["models"]["lexical (bm25-en)"].startswith("qdrant-edge-bm25:")

    report = (out / "report.md").read_text()
    header = next(line for line in report.splitlines() if line.startswith("| metric |"))
    assert header == f"| metric | {' | '.join(labels)} | Δ {labels[-1]} − {labels[0]} |"
    assert "| map@100 |" not in report and "| mrr@10 |" in report  # a pipeline has no MAP@100
    assert report in result.output and "## Gate:" in report and metrics["gate"]["metric"] == "mrr@10"
    assert (out / "hit_rate.png").stat().st_size > 0

    # the dense pipeline is the bare model: the same cosine ranking as the library's IR evaluator
    # (16 distinct chunks, so no ties that the two could break differently)
    bare = evaluate_models({MODEL: base_model_path}, load_ir_json(ir_file))
    assert metrics["metrics"][labels[0]]["mrr@10"] == pytest.approx(bare.metrics[MODEL]["mrr@10"], abs=1e-6)
    assert metrics["metrics"][labels[0]]["accuracy@1"] == pytest.approx(bare.metrics[MODEL]["accuracy@1"], abs=1e-6)


@pytest.mark.parametrize("spec", ["foo", "hybrid:2"])
def test_a_bad_retrieval_spec_is_one_line_naming_the_accepted_forms(plain_settings, ir_file, spec):
    result = CliRunner().invoke(eval_command, ["--model", MODEL, "--dataset", ir_file, "--retrieval", "dense",
                                               "--retrieval", spec])
    assert result.exit_code != 0 and "Traceback" not in result.output
    last = [line for line in result.output.splitlines() if line.strip()][-1]
    assert last.startswith("Error: ") and "--retrieval" in last and repr(spec) in last and ACCEPTED in last, result.output
