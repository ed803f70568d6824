"""``docstune status`` says what the server runs on and where, besides whether each part works."""
import json
import os

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
    # the database of this test pass: SQLite in DATA_DIR, or the PostgreSQL pass's server (DATABASE_URL)
    kind = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    assert f"kind={kind}" in shown.output and "huey on SQLite" in shown.output and "extractive" in shown.output
    assert report["vector_store"]["engine"] == "Qdrant Edge" and report["database"]["kind"] == kind
    assert report["jobs"]["worker"] == "separate (docstune worker)" and report["llm"]["provider"] == "extractive"
