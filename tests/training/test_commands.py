"""The click commands, run with CliRunner against a fresh DATA_DIR."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from application.commands.training import COMMANDS, eval_command, models, synth, train
from tests.training.conftest import chunk_texts, make_ir, retrieved, write_jsonl

FAST = ["--epochs", "1", "--batch-size", "8", "--max-seq-length", "64"]


def invoke(command, args):
    return CliRunner().invoke(command, args, catch_exceptions=False)


def test_the_commands_are_exported_for_the_main_cli_and_import_nothing_heavy():
    assert [c.name for c in COMMANDS] == ["train", "eval", "synth", "models"]
    code = "import sys, application.commands.training; print('sentence_transformers' in sys.modules or 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_train_from_feedback_then_list_show_promote_rollback_and_eval(data_dir, feedback_file, ir_file, tmp_path):
    result = invoke(train, ["--from-feedback", feedback_file, *FAST, "--min-questions", "1"])
    assert result.exit_code == 0, result.output
    shown = json.loads(invoke(models, ["show", "1"]).output)
    verdict = shown["gate"]["status"]
    assert f"Registered v0001 ({verdict.replace('_', ' ')})" in result.output
    version_dir = data_dir / "models" / "v0001"
    assert f"Report:  {version_dir / 'report.md'}" in result.output and (version_dir / "report.md").is_file()
    assert ("docstune models promote v0001" in result.output) == (verdict == "better")
    # the gate is paired over the evaluation questions: the report shows the interval and the wins/losses
    assert shown["gate"]["questions"] == shown["gate"]["held_out_queries"] >= 1
    assert shown["gate"]["wins"] + shown["gate"]["losses"] + shown["gate"]["ties"] == shown["gate"]["questions"]
    # hybrid retrieval (the default): judged pipeline against pipeline, the fitted weight recorded
    assert "Judged as a pipeline: hybrid convex-minmax, fitted dense share" in result.output
    report = (version_dir / "report.md").read_text()
    assert "lexical (bm25-en)" in report and "candidate · hybrid:convex-minmax:" in report
    assert "bootstrap interval" in report and "questions won" in report

    listing = invoke(models, ["list"])
    status = "candidate" if verdict == "better" else "rejected"
    assert "v0001" in listing.output and status in listing.output
    assert shown["status"] == status and shown["parent"] is None and shown["metrics"]["mrr@10"] >= 0
    retrieval = shown["retrieval"]
    assert retrieval["mode"] == "hybrid" and 0 <= retrieval["weight"] <= 1 and retrieval["questions"] >= 1
    assert retrieval["lexical"] == "bm25-en" and retrieval["serving_at_training"]["weight"] == 0.5

    assert "v0001 is now active" in invoke(models, ["promote", "v0001", "--force"]).output
    assert json.loads(invoke(models, ["list", "--json"]).output)[0]["status"] == "active"
    assert "No version is active now" in invoke(models, ["rollback"]).output
    assert json.loads(invoke(models, ["show", "v1"]).output)["status"] == "archived"

    out = tmp_path / "eval"
    result = invoke(eval_command, ["--model", "all-MiniLM-L6-v2", "--model", "v1", "--dataset", ir_file, "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["metrics"]) == ["all-MiniLM-L6-v2", "v1"] and len(metrics["query_ids"]) == 32
    assert metrics["gate"]["status"] in ("better", "worse", "not_enough_evidence") and (out / "hit_rate.png").is_file()
    assert metrics["gate"]["questions"] == 32
    assert "## Gate:" in result.output


def test_train_on_synthetic_questions_from_a_folder_of_texts(data_dir, tmp_path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for cid, text in chunk_texts().items():
        (corpus / f"{cid}.txt").write_text(text)
    result = invoke(train, ["--synthetic", str(corpus), *FAST])
    assert result.exit_code == 0, result.output
    meta = json.loads((data_dir / "models" / "v0001" / "version.json").read_text())
    assert meta["data_stats"]["method"] == "inverse_cloze" and meta["training"]["loss"] == "mnrl"
    assert meta["data_stats"]["mined_triplets"] > 0


def test_synth_writes_ir_json_offline(data_dir, tmp_path):
    chunks = tmp_path / "chunks.jsonl"
    write_jsonl(chunks, [{"chunk_id": cid, "text": text} for cid, text in chunk_texts().items()])
    out = tmp_path / "synthetic.json"
    result = invoke(synth, ["--corpus", str(chunks), "--out", str(out), "--questions-per-chunk", "1"])
    assert result.exit_code == 0 and f"to {out}" in result.output
    data = json.loads(out.read_text())
    assert len(data["queries"]) == 16 and set(data["corpus"]) == set(chunk_texts())


def _bad_inputs(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    useless = write_jsonl(tmp_path / "useless.jsonl", [{"question": "q?", "verdict": "like",
                                                         "retrieved": retrieved("billing-1")}])
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q?"}\n{"question": \n')
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"queries": {}, "corpus": {}}))
    dangling_data = make_ir()
    dangling_data["relevant_docs"]["billing-1-q0"] = ["nowhere"]
    dangling = tmp_path / "dangling.json"
    dangling.write_text(json.dumps(dangling_data))
    not_a_model = tmp_path / "not_a_model"
    not_a_model.mkdir()
    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_ir()))
    return {
        "empty feedback": (train, ["--from-feedback", str(empty)], "empty"),
        "no usable pairs": (train, ["--from-feedback", useless], "no usable"),
        "malformed line": (train, ["--from-feedback", str(broken)], "broken.jsonl:2"),
        "missing keys": (train, ["--dataset", str(missing)], "missing key"),
        "dangling ids": (train, ["--dataset", str(dangling)], "nowhere"),
        "not a model": (eval_command, ["--model", str(not_a_model), "--dataset", str(good)], "not a sentence-transformers"),
        "not a model to train": (train, ["--dataset", str(good), "--base-model", str(not_a_model)], "not a sentence-transformers"),
        "unknown version": (models, ["promote", "v7"], "no model version"),
    }


@pytest.mark.parametrize("case", ["empty feedback", "no usable pairs", "malformed line", "missing keys", "dangling ids",
                                  "not a model", "not a model to train", "unknown version"])
def test_bad_input_is_one_clear_error_line_and_leaves_the_registry_unchanged(case, data_dir, tmp_path):
    command, args, message = _bad_inputs(tmp_path)[case]
    result = CliRunner().invoke(command, args)
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and message in lines[-1], result.output
    assert "Traceback" not in result.output
    models_dir = data_dir / "models"
    assert not models_dir.exists() or not [p for p in models_dir.iterdir() if p.name.startswith("v")]
