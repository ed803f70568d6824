"""A second real model ("model B"): the bundled MiniLM saved again with one weight changed, so it
is another fingerprint (its own collection) that loads like any fine-tuned checkpoint."""
from __future__ import annotations

import shutil

import pytest

from tests.application.jobs.conftest import indexed_services, make_services  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def model_b_source(tmp_path_factory):
    import torch
    from sentence_transformers import SentenceTransformer

    from plugins.sentence_transformers_backend import bundled_model_path

    model = SentenceTransformer(bundled_model_path(), device="cpu")
    with torch.no_grad():
        model[0].auto_model.embeddings.word_embeddings.weight[1000, 0] += 0.5
    folder = tmp_path_factory.mktemp("models") / "minilm-b"
    model.save(str(folder))
    return folder


@pytest.fixture
def model_b(model_b_source, tmp_path):
    """A private copy (tests delete it to play a checkpoint lost from disk)."""
    folder = tmp_path / "minilm-b"
    shutil.copytree(model_b_source, folder)
    return folder


@pytest.fixture
def registered_b(model_b, indexed_services):
    """Model B as registry version v0001 (a candidate the gate found better)."""
    from training.registry import ModelRegistry

    registry = ModelRegistry(indexed_services.settings.models_dir)
    return registry.register(model_b, base_model="all-MiniLM-L6-v2",
                             gate={"status": "better", "reason": "test", "baseline_metrics": {"mrr@10": 0.5}},
                             metrics={"mrr@10": 0.6})
