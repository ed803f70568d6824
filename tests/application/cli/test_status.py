"""``docstune status`` says what the server runs on and where, besides whether each part works."""
import json

from click.testing import CliRunner

from application.cli import main


def test_status_names_the_engine_the_database_the_queue_and_the_llm(tmp_path):
    data = tmp_path / "data"
    env = {"DATA_DIR": str(data), "EMBEDDINGS_NAME": "all-MiniLM-L6-v2", "LLM_PROVIDER": "extractive",
           "JOBS_WORKER": "off"}

    shown = CliRunner().invoke(main, ["status"], env=env, catch_exceptions=False)
    report = json.loads(CliRunner().invoke(main, ["status", "--json"], env=env, catch_exceptions=False).output)

    assert shown.exit_code == 0, shown.output
    assert "Qdrant Edge" in shown.output and str(data / "qdrant") in shown.output
    assert "sqlite" in shown.output and "huey on SQLite" in shown.output and "extractive" in shown.output
    assert report["vector_store"]["engine"] == "Qdrant Edge" and report["database"]["kind"] == "sqlite"
    assert report["jobs"]["worker"] == "separate (docstune worker)" and report["llm"]["provider"] == "extractive"
