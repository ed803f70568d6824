import json

import pytest

from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings
from training.registry import ModelRegistry, RegistryError


@pytest.fixture
def fake_model(tmp_path):
    """A folder shaped like a sentence-transformers model: enough for the registry (it never loads it)."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "modules.json").write_text("[]")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_register_writes_an_immutable_version_whose_fingerprint_matches_the_serving_backend(tmp_path, fake_model):
    registry = ModelRegistry(tmp_path / "models")
    version = registry.register(fake_model, base_model="all-MiniLM-L6-v2", metrics={"mrr@10": 0.5},
                                data_stats={"pairs": 3}, gate={"status": "better", "reason": "ok"})
    assert version.version == "v0001" and version.status == "candidate"
    meta = json.loads((tmp_path / "models" / "v0001" / "version.json").read_text())
    assert meta["metrics"] == {"mrr@10": 0.5} and meta["data_stats"] == {"pairs": 3} and meta["created_at"]
    served = SentenceTransformerEmbeddings(version.model_path, version.model_path)
    assert version.fingerprint == served.fingerprint
    assert version.fingerprint.startswith("docstune-v0001-")
    assert fake_model.exists()  # copied, not moved, unless asked
    assert [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".tmp")] == []


def test_a_rejected_version_is_recorded_as_rejected_and_needs_force_to_promote(tmp_path, fake_model):
    registry = ModelRegistry(tmp_path / "models")
    registry.register(fake_model, base_model="b", gate={"status": "rejected", "reason": "mrr@10 fell"})
    with pytest.raises(RegistryError, match="rejected by the gate"):
        registry.promote("v1")
    assert registry.active() is None
    assert registry.promote("v1", force=True).version == "v0001"


def test_promote_and_rollback_flip_the_active_pointer_and_archive_the_old(tmp_path, fake_model):
    registry = ModelRegistry(tmp_path / "models")
    v1 = registry.register(fake_model, base_model="b")
    v2 = registry.register(fake_model, base_model="b", parent=v1.version)
    registry.promote("1")
    registry.promote("v2")
    assert registry.active().version == v2.version
    assert registry.status_of(v1) == "archived" and registry.status_of(v2) == "active"
    assert registry.rollback_target() == v1.version
    assert registry.rollback().version == v1.version
    assert registry.status_of(registry.get("v2")) == "archived"
    assert registry.rollback_target() is None
    assert registry.rollback() is None  # back to the base model
    with pytest.raises(RegistryError, match="nothing to roll back"):
        registry.rollback()


def test_registering_something_that_is_not_a_model_changes_nothing(tmp_path):
    registry = ModelRegistry(tmp_path / "models")
    (tmp_path / "junk").mkdir()
    with pytest.raises(RegistryError, match="not a sentence-transformers model"):
        registry.register(tmp_path / "junk", base_model="b")
    assert registry.versions() == []


def test_an_unknown_version_names_the_known_ones(tmp_path, fake_model):
    registry = ModelRegistry(tmp_path / "models")
    registry.register(fake_model, base_model="b")
    with pytest.raises(RegistryError, match=r"registered: v0001"):
        registry.get("v9")
