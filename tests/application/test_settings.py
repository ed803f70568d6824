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
