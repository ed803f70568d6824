"""The docstune command as a person uses it: one readable line and exit code != 0 on bad input."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from application.cli import main
from tests.conftest import make_encrypted_pdf, make_pdf


@pytest.fixture
def run(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "EMBEDDINGS_NAME": "all-MiniLM-L6-v2"}

    def invoke(*args, **extra_env):
        return CliRunner().invoke(main, list(args), env={**env, **extra_env}, catch_exceptions=False)

    return invoke


def test_help_does_not_import_the_model_stack():
    code = "import sys, application.cli; bad = [m for m in ('torch', 'sentence_transformers', 'qdrant_client', 'flask') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run([sys.executable, "-m", "application.cli", "--help"], capture_output=True, text=True).stdout
    assert "ingest" in help_text and "search" in help_text and "sources" in help_text


def test_ingest_search_list_and_delete(run, docs_dir):
    result = run("ingest", str(docs_dir))
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output

    result = run("search", "how long does shipping to the US take", "-k", "2", "--json")
    assert result.exit_code == 0
    hits = json.loads(result.output)
    assert len(hits) == 2 and hits[0]["uri"].endswith("shipping.txt") and hits[0]["rank"] == 1

    result = run("documents", "list", "--json")
    sources = json.loads(result.output)
    assert sorted(s["title"] for s in sources) == ["Office life", "Refund policy", "shipping"]

    office = next(s for s in sources if s["title"] == "Office life")
    result = run("documents", "delete", office["id"])
    assert result.exit_code == 0 and "deleted" in result.output
    assert len(json.loads(run("documents", "list", "--json").output)) == 2

    result = run("search", "office cat")
    assert result.exit_code == 0 and "Office life" not in result.output


def test_interactive_search_answers_until_an_empty_line(tmp_path, docs_dir):
    env = {"DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    runner.invoke(main, ["ingest", str(docs_dir)], env=env)
    result = runner.invoke(main, ["search", "-k", "1"], env=env, input="refund deadline\n   \n")
    assert result.exit_code == 0
    assert "Refund policy" in result.output


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.txt", b"", "empty.txt is empty"),
        ("binary.txt", bytes(range(256)) * 8, "binary.txt looks like a binary file"),
        ("corrupt.pdf", b"%PDF-1.7\n1 0 obj garbage", "corrupt.pdf is not a readable PDF"),
    ],
)
def test_bad_files_fail_with_one_line_and_keep_what_was_stored(run, docs_dir, tmp_path, name, content, message):
    assert run("ingest", str(docs_dir)).exit_code == 0
    bad = tmp_path / name
    bad.write_bytes(content)
    result = run("ingest", str(bad))
    assert result.exit_code == 1
    assert message in result.output
    assert len(json.loads(run("documents", "list", "--json").output)) == 3


def test_an_encrypted_pdf_fails_with_a_hint(run, tmp_path):
    result = run("ingest", str(make_encrypted_pdf(tmp_path)))
    assert result.exit_code == 1 and "encrypted PDF" in result.output


def test_a_pdf_is_searchable_with_its_page(run, tmp_path):
    pdf = tmp_path / "annual.pdf"
    pdf.write_bytes(make_pdf(["Introduction to the annual report.", "Revenue grew forty percent thanks to rideshare."]))
    assert run("ingest", str(pdf)).exit_code == 0
    hits = json.loads(run("search", "how much did revenue grow", "-k", "1", "--json").output)
    assert hits[0]["page"] == 2


def test_a_missing_path_is_one_error_line(run):
    result = run("ingest", "/no/such/place")
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == "Error: /no/such/place does not exist"


def test_a_bad_setting_is_one_error_line_naming_each_setting(run, docs_dir):
    assert run("ingest", str(docs_dir)).exit_code == 0
    result = run("documents", "list", LLM_DEADLINE="0", TRUSTED_PROXIES="two")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid setting: LLM_DEADLINE='0': ")
    assert "TRUSTED_PROXIES='two'" in lines[0] and "greater than 0" in lines[0]
    assert "refunds" in run("documents", "list").output  # what was stored is still there


def test_an_empty_folder_says_nothing_was_found(run, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("ingest", str(tmp_path / "empty"))
    assert result.exit_code == 1 and "No supported documents found" in result.output


def test_a_blank_question_is_refused(run):
    result = run("search", "   ")
    assert result.exit_code == 1 and "The question is empty" in result.output


def test_a_folder_that_is_not_a_model_is_refused(run, tmp_path, docs_dir):
    assert run("ingest", str(docs_dir)).exit_code == 0
    result = run("search", "refunds", EMBEDDINGS_NAME=str(docs_dir))
    assert result.exit_code == 1 and "is not a sentence-transformers model folder" in result.output
    assert len(json.loads(run("documents", "list", "--json").output)) == 3


def test_a_hub_name_is_refused_with_the_fix(run):
    result = run("search", "refunds", EMBEDDINGS_NAME="intfloat/e5-small-v2")
    assert result.exit_code == 1 and "pass the path of a local sentence-transformers folder" in result.output


def test_deleting_an_unknown_source_is_an_error(run):
    result = run("documents", "delete", "nope")
    assert result.exit_code == 1 and "No source with id or path 'nope'" in result.output


def test_reindex_and_status(run, docs_dir):
    run("ingest", str(docs_dir))
    result = run("reindex")
    assert result.exit_code == 0 and "chunks embedded into chunks__all-minilm-l6-v2" in result.output
    status = json.loads(run("status", "--json").output)
    assert status["ok"] and status["vector_store"]["points"] >= 3
