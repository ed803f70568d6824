"""Fixtures of the deployment tests: the compose file as docker-compose normalizes it, the Dockerfile,
the settings' names and the routes of the real app."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import pytest

from tests.deploy.deployfiles import ENV_EXAMPLE, compose_config, read_dockerfile


@functools.cache
def _clean_clone_config() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.env"  # a clean clone: no .env, nothing set in the shell
        empty.write_text("")
        return compose_config(empty)


@functools.cache
def _env_example_config() -> dict:
    return compose_config(ENV_EXAMPLE)  # what `cp .env.example .env` gives


@pytest.fixture
def compose() -> dict:
    return _clean_clone_config()


@pytest.fixture
def compose_with_env_example() -> dict:
    return _env_example_config()


@pytest.fixture
def dockerfile():
    return read_dockerfile()


@pytest.fixture
def setting_names() -> set[str]:
    from application.settings import Settings

    return {field.alias for field in Settings.model_fields.values()}


@pytest.fixture
def url_map(tmp_path):
    """The routes of the real app (built, not started: no model is loaded)."""
    from application import create_app
    from application.api import close_app
    from application.settings import Settings

    app = create_app(Settings(_env_file=None, DATA_DIR=tmp_path / "data", JOBS_WORKER="off",
                              ADMIN_TOKEN="t" * 32, LLM_PROVIDER="extractive", RATE_LIMIT_ENABLED=False))
    yield app.url_map
    close_app(app)

