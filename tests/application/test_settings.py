from pathlib import Path

from application.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text()
    names = [field.alias for field in Settings.model_fields.values()]
    missing = [name for name in names if f"| `{name}` |" not in text]
    assert not missing, f"README's settings table lacks {missing}"


def test_empty_values_mean_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("QDRANT_URL", "")
    monkeypatch.setenv("DATABASE_URL", "")
    settings = Settings(DATA_DIR=tmp_path)
    assert settings.qdrant_url is None
    assert settings.database_url_resolved == f"sqlite:///{(tmp_path / 'docstune.db').resolve()}"
    assert settings.qdrant_path_resolved == tmp_path / "qdrant"


def test_a_bad_value_is_a_settings_error_that_names_the_setting(tmp_path):
    import pytest

    from application.errors import DocsTuneError
    from application.settings import SettingsError

    with pytest.raises(SettingsError) as caught:
        Settings(DATA_DIR=tmp_path, LLM_DEADLINE=-1)
    assert isinstance(caught.value, DocsTuneError) and isinstance(caught.value, ValueError)
    assert "LLM_DEADLINE=-1: Input should be greater than 0" in caught.value.message


def test_bad_retrieval_settings_are_one_clear_line_from_the_cli(tmp_path):
    import os
    import subprocess
    import sys

    from tests.live_server import ROOT

    for name, value, says in (("RETRIEVAL_MODE", "foo", "Input should be 'dense', 'lexical' or 'hybrid'"),
                              ("FUSION_WEIGHT", "1.5", "Input should be less than or equal to 1"),
                              ("FUSION_METHOD", "max", "Input should be 'convex', 'rrf', 'wrrf' or 'dbsf'")):
        env = {**os.environ, "DATA_DIR": str(tmp_path), name: value}
        result = subprocess.run([sys.executable, "-m", "application.cli", "status"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode != 0 and len(lines) == 1, result.stderr
        assert f"{name}='{value}': {says}" in lines[0] and "Traceback" not in result.stderr


def test_fusion_weight_unset_means_the_fitted_one_then_the_measured_default(tmp_path):
    from application.settings import DEFAULT_FUSION_WEIGHT

    settings = Settings(DATA_DIR=tmp_path)
    assert settings.fusion().weight == DEFAULT_FUSION_WEIGHT
    assert settings.fusion(weight=0.3).weight == 0.3
    assert Settings(DATA_DIR=tmp_path, FUSION_WEIGHT="0.9").fusion(weight=0.3).weight == 0.9
