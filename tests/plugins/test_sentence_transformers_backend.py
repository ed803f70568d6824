import shutil
import threading
import time

import numpy as np
import pytest

from plugins import EmbeddingModelError, load_embeddings
from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings, bundled_model_path


@pytest.fixture(scope="module")
def bundled():
    return load_embeddings("all-MiniLM-L6-v2")


def test_bundled_model_makes_normalised_384_d_vectors(bundled):
    vectors = bundled.embed_documents(["The cat sleeps on the keyboard.", "Refunds take five days."])
    assert bundled.dimension == 384
    assert bundled.max_seq_length == 256
    assert [len(v) for v in vectors] == [384, 384]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_related_texts_score_higher_than_unrelated_ones(bundled):
    query = np.array(bundled.embed_query("How long do refunds take?"))
    related, unrelated = np.array(bundled.embed_documents(["Refunds are paid within five days.", "Our cat is grey."]))
    assert query @ related > query @ unrelated + 0.2


def test_docsgpt_style_names_resolve_to_the_same_bundled_model(bundled):
    other = load_embeddings("huggingface_sentence-transformers/all-MiniLM-L6-v2")
    assert other.fingerprint == bundled.fingerprint


def test_fingerprint_is_equal_for_a_copy_and_differs_after_the_weights_change(bundled, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundled_model_path(), copy)
    assert SentenceTransformerEmbeddings("copy", str(copy)).fingerprint.split("-")[-1] == bundled.fingerprint.split("-")[-1]

    import torch

    model = bundled.model
    tuned = tmp_path / "tuned"
    original = {name: p.detach().clone() for name, p in model.named_parameters()}
    try:
        with torch.no_grad():
            next(iter(model.parameters())).add_(1e-3)
        model.save(str(tuned))
    finally:
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(original[name])
    assert SentenceTransformerEmbeddings("tuned", str(tuned)).fingerprint != bundled.fingerprint


def test_prefixes_change_the_vectors_and_the_fingerprint(bundled):
    prefixed = SentenceTransformerEmbeddings(
        "e5-style", bundled_model_path(), query_prefix="query: ", document_prefix="passage: "
    )
    assert prefixed.fingerprint != bundled.fingerprint
    assert not np.allclose(prefixed.embed_query("refunds"), bundled.embed_query("refunds"))


def test_a_hub_name_is_refused_at_once_with_the_fix(tmp_path):
    started = time.monotonic()
    with pytest.raises(EmbeddingModelError, match="local"):
        load_embeddings("BAAI/bge-small-en-v1.5")
    assert time.monotonic() - started < 1.0


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EmbeddingModelError, match="not a sentence-transformers model folder"):
        load_embeddings(str(tmp_path))


def test_a_folder_with_a_broken_model_gives_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    backend = load_embeddings(str(tmp_path))
    with pytest.raises(EmbeddingModelError, match="Could not load the embedding model"):
        backend.embed_query("x")


def test_one_instance_is_shared_and_safe_to_use_from_many_threads(bundled):
    assert load_embeddings("all-MiniLM-L6-v2") is bundled
    texts = [f"sentence number {i} about refunds and shipping" for i in range(16)]
    expected = bundled.embed_documents(texts)
    results, errors = in_threads(lambda i: bundled.embed_documents(texts), 8)
    assert not errors and len(results) == 8
    assert all(np.allclose(r, expected, atol=1e-5) for r in results.values())


def in_threads(work, count: int) -> tuple[dict, list]:
    """``work(i)`` on ``count`` threads at once: its results by ``i`` and every exception raised
    ("Already borrowed" from a tokenizer two threads share would land there)."""
    results: dict[int, object] = {}
    errors: list[BaseException] = []

    def run(i):
        try:
            results[i] = work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def test_token_counts_match_the_tokenizer_and_are_safe_from_many_threads(bundled):
    tokenizer = bundled.model.tokenizer
    texts = ["", " ", "\n\n", "Refunds are issued within 5 business days.", "héllo wörld — “quotes” ©2026",
             "word " * 600, "Lyft's 10-K: revenue $4.1bn (2022); see Item 7."]

    def reference(text):
        return len(tokenizer.encode(text, add_special_tokens=False, truncation=False, verbose=False))

    assert [bundled.count_tokens(t) for t in texts] == [reference(t) for t in texts]
    assert bundled.count_tokens("word " * 600) > bundled.max_seq_length  # never truncated
    counts, errors = in_threads(
        lambda offset: [bundled.count_tokens(f"{t} {offset} {i}") for i in range(200) for t in texts], 4)
    assert not errors and sorted(counts) == [0, 1, 2, 3]
    assert counts[3][:len(texts)] == [reference(f"{t} 3 0") for t in texts]
