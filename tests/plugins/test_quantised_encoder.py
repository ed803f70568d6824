"""EMBEDDINGS_BACKEND=onnx / onnx-int8: the bundled model through ONNX Runtime, exported here, never downloaded."""
import os
from pathlib import Path

import numpy as np
import pytest

from plugins import EmbeddingModelError
from plugins.onnx_runtime import onnx_file_name, quantisation_target
from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings, bundled_model_path, weights_digest

SENTENCES = [
    "How long do refunds take?",
    "Refunds are paid within five days of the return.",
    "The cat sleeps on the warm keyboard.",
    "Can I change the GPU driver version on my node pool without recreating the cluster?",
    "Debian is a free operating system for your computer. " * 20,  # long: truncated to max_seq_length
]


def _backend(backend="torch", **options):
    # one question at a time, no cache: every call really encodes
    return SentenceTransformerEmbeddings("all-MiniLM-L6-v2", bundled_model_path(), backend=backend,
                                         query_batch_max=1, query_cache_size=0, **options)


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def torch_vectors():
    return np.array(_backend().embed_documents(SENTENCES))


@pytest.fixture(scope="module")
def int8(onnx_cache):
    backend = _backend("onnx-int8", onnx_cache_dir=onnx_cache)
    backend.embed_query("warm up")  # exports once for the whole module
    return backend


def test_int8_encoder_is_exported_into_the_cache_and_not_into_the_read_only_model_folder(int8, onnx_cache):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    export_dir = onnx_cache / weights_digest(bundled_model_path())[:16]
    assert int8.onnx_export_dir == export_dir
    quantised = export_dir / onnx_file_name("onnx-int8")
    assert quantised.name == f"model_qint8_{quantisation_target()}.onnx"
    # int8 weights: about a quarter of the float32 export
    assert quantised.stat().st_size < (export_dir / "model.onnx").stat().st_size / 2
    assert not (Path(bundled_model_path()) / "onnx").exists()
    assert sorted(p.name for p in export_dir.iterdir()) == sorted(["model.onnx", quantised.name])  # no temp files


def test_a_second_load_reuses_the_export(int8, onnx_cache):
    quantised = int8.onnx_export_dir / onnx_file_name("onnx-int8")
    before = quantised.stat().st_mtime_ns
    again = _backend("onnx-int8", onnx_cache_dir=onnx_cache)
    assert len(again.embed_query("refunds")) == 384
    assert quantised.stat().st_mtime_ns == before


def test_int8_vectors_are_close_to_the_torch_ones_but_not_identical(int8, torch_vectors):
    vectors = np.array(int8.embed_documents(SENTENCES))
    assert vectors.shape == torch_vectors.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = (vectors * torch_vectors).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    assert np.abs(vectors - torch_vectors).max() > 1e-3  # quantised: really another encoder


def test_int8_still_ranks_the_related_text_first(int8):
    query = np.array(int8.embed_query("How long do refunds take?"))
    related, unrelated = np.array(int8.embed_documents(SENTENCES[1:3]))
    assert query @ related > query @ unrelated + 0.2


def test_float32_onnx_gives_the_torch_vectors(onnx_cache, int8, torch_vectors):
    onnx = _backend("onnx", onnx_cache_dir=onnx_cache)  # reuses the module's float32 export
    vectors = np.array(onnx.embed_documents(SENTENCES))
    assert np.abs(vectors - torch_vectors).max() < 1e-4


def test_each_backend_has_its_own_fingerprint_and_torch_keeps_the_old_one(int8, onnx_cache):
    torch_fp = _backend().fingerprint
    onnx_fp = _backend("onnx", onnx_cache_dir=onnx_cache).fingerprint
    assert len({torch_fp, onnx_fp, int8.fingerprint}) == 3
    assert int8.fingerprint.startswith(f"all-minilm-l6-v2-onnx-int8-{quantisation_target().replace('_', '-')}-")
    # the default backend leaves the fingerprint of existing indexes untouched
    assert torch_fp == SentenceTransformerEmbeddings("all-MiniLM-L6-v2", bundled_model_path()).fingerprint
    # where the export lives is not part of the identity: the vectors are the same
    assert _backend("onnx-int8").fingerprint == int8.fingerprint


def test_an_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(EmbeddingModelError, match=r"'tensorrt'.*EMBEDDINGS_BACKEND to one of torch, onnx, onnx-int8"):
        _backend("tensorrt")


def test_an_unknown_backend_setting_is_refused_with_the_choices(make_settings):
    from application.settings import SettingsError

    with pytest.raises(SettingsError, match=r"EMBEDDINGS_BACKEND='int4'.*'torch', 'onnx' or 'onnx-int8'"):
        make_settings(EMBEDDINGS_BACKEND="int4")
    options = make_settings(EMBEDDINGS_BACKEND="onnx-int8").embedding_options()
    assert options["backend"] == "onnx-int8" and options["onnx_cache_dir"].name == "onnx-cache"


def test_onnx_backends_refuse_a_gpu_device():
    with pytest.raises(EmbeddingModelError, match="runs on the CPU with ONNX Runtime"):
        _backend("onnx-int8", device="cuda")


def test_an_export_that_cannot_be_written_says_where_and_what_to_do(tmp_path):
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    backend = _backend("onnx-int8", onnx_cache_dir=not_a_folder)
    with pytest.raises(EmbeddingModelError, match=r"Could not export or load the onnx-int8 encoder .* "
                                                  r"EMBEDDINGS_BACKEND=torch needs no export"):
        backend.embed_query("refunds")
