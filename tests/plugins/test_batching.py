"""The question micro-batcher and cache, on the real bundled MiniLM (its ``encode`` wrapped to count calls)."""
from __future__ import annotations

import gc
import threading
import time
import weakref
from contextlib import contextmanager

import numpy as np
import pytest

from plugins.base import EmbeddingModelError
from plugins.batching import (PADDING_SLACK_CHARS, BatcherClosed, EmbeddingQueueFull, QueryBatcher, VectorCache,
                              encode_by_length)
from plugins.sentence_transformers_backend import SentenceTransformerEmbeddings, bundled_model_path

QUESTIONS = [f"How do I configure option number {i} of the parser?" for i in range(16)]


@pytest.fixture(scope="module")
def sentence_transformer():
    from plugins import load_embeddings

    return load_embeddings("all-MiniLM-L6-v2").model


def direct(model, text: str) -> np.ndarray:
    """What one question encoded on its own gives (what the backend did before batching)."""
    return model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]


class CountingEncode:
    """The real model's encode, counting calls and the texts of each; ``gate`` holds the first call back."""

    def __init__(self, model, gate: threading.Event | None = None, fail_on: str | None = None):
        self.model = model
        self.original = model.encode
        self.calls: list[list[str]] = []
        self.threads: list[str] = []  # the thread of each call
        self.gate = gate
        self.entered = threading.Event()
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, texts, *args, **kwargs):
        texts = list(texts)
        with self.lock:
            self.calls.append(texts)
            self.threads.append(threading.current_thread().name)
            first = len(self.calls) == 1
        self.entered.set()
        if first and self.gate is not None:
            assert self.gate.wait(60), "the test never opened the gate"
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"encode failed on {self.fail_on!r}")
        return self.original(texts, *args, **kwargs)

    def as_batch_encode(self):
        """An ``encode(texts) -> vectors`` for QueryBatcher, through this wrapper."""
        return lambda texts: self(texts, normalize_embeddings=True, convert_to_numpy=True).tolist()


@contextmanager
def held_worker(model, fail_on: str | None = None, **options):
    """A batcher whose worker is held inside its first encode ("held back") until the test sets ``gate``:
    what the test submits meanwhile queues in order. Yields (batcher, counting, gate, held future)."""
    gate = threading.Event()
    counting = CountingEncode(model, gate, fail_on=fail_on)
    batcher = QueryBatcher(counting.as_batch_encode(), **options)
    try:
        held = batcher.submit("held back")
        assert counting.entered.wait(30)
        yield batcher, counting, gate, held
    finally:
        gate.set()
        batcher.close()


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


@pytest.fixture
def backend(sentence_transformer):
    """A backend on the shared loaded model, batcher on, no cache (the tests that want one make their own)."""
    made = []

    def make(**options) -> SentenceTransformerEmbeddings:
        options = {"query_batch_wait_ms": 2.0, "query_batch_max": 32, "query_cache_size": 0, **options}
        embeddings = SentenceTransformerEmbeddings("all-MiniLM-L6-v2", bundled_model_path(), **options)
        embeddings._model = sentence_transformer  # loaded once per module, not per test
        made.append(embeddings)
        return embeddings

    yield make
    for embeddings in made:
        embeddings.close()


def ask_from_threads(embed, questions) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(questions))

    def ask(question):
        start.wait()
        try:
            results[question] = embed(question)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


# -- the batcher, through the backend ---------------------------------------------------------------
def test_questions_from_many_threads_get_their_own_vectors_from_fewer_encodes(backend, sentence_transformer,
                                                                              monkeypatch):
    embeddings = backend()
    expected = {q: direct(sentence_transformer, q) for q in QUESTIONS}
    gate = threading.Event()
    counting = CountingEncode(sentence_transformer, gate)
    monkeypatch.setattr(sentence_transformer, "encode", counting)
    batcher = embeddings.query_batcher()

    # the first encode is held until every other question waits: those must then share one encode
    def open_when_all_wait():
        assert counting.entered.wait(30)
        wait_until(lambda: batcher.waiting == len(QUESTIONS) - len(counting.calls[0]))
        gate.set()

    opener = threading.Thread(target=open_when_all_wait)
    opener.start()
    results = ask_from_threads(embeddings.embed_query, QUESTIONS)
    opener.join()

    for question in QUESTIONS:
        assert np.allclose(results[question], expected[question], atol=1e-5), question
    # one encode when all arrived before the worker woke, else two: never one per question
    assert len(counting.calls) <= 2 < len(QUESTIONS)
    assert sorted(text for call in counting.calls for text in call) == sorted(QUESTIONS)
    assert (batcher.batches, batcher.questions) == (len(counting.calls), len(QUESTIONS))


def test_questions_and_documents_encode_at_once_without_tokenizer_clashes(backend, sentence_transformer):
    embeddings = backend()
    documents = [f"Chapter {i}: the parser reads options from the file." for i in range(8)]
    expected_documents = sentence_transformer.encode(documents, normalize_embeddings=True)
    results, errors = {}, []

    def embed_documents_repeatedly():
        try:
            for _ in range(5):
                results.setdefault("documents", []).append(embeddings.embed_documents(documents))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=embed_documents_repeatedly)
    worker.start()
    answers = ask_from_threads(embeddings.embed_query, QUESTIONS)
    worker.join(60)
    assert not errors, errors
    for vectors in results["documents"]:
        assert np.allclose(vectors, expected_documents, atol=1e-5)
    for question in QUESTIONS:
        assert np.allclose(answers[question], direct(sentence_transformer, question), atol=1e-5)


SENTENCES = [f"The parser reads option {i} from the configuration file." for i in range(20)]


def test_texts_of_requests_share_the_worker_and_its_batches_with_questions(backend, sentence_transformer,
                                                                           monkeypatch):
    """The offline answerer's sentences (embed_documents_shared) go to the question batcher's one thread,
    with other requests' texts and questions in the same batches; each caller gets its own vectors, in order."""
    embeddings = backend()
    expected = dict(zip(SENTENCES, sentence_transformer.encode(SENTENCES, normalize_embeddings=True)))
    expected.update({q: direct(sentence_transformer, q) for q in QUESTIONS[:4]})
    gate = threading.Event()
    counting = CountingEncode(sentence_transformer, gate)
    monkeypatch.setattr(sentence_transformer, "encode", counting)
    batcher = embeddings.query_batcher()
    held = batcher.submit("held back")  # the worker waits in this encode until every request below is queued
    assert counting.entered.wait(30)
    requests = {f"answer {k}": SENTENCES[5 * k:5 * k + 5][::-1] for k in range(4)}  # four answers' sentences
    asks = {**requests, **{q: q for q in QUESTIONS[:4]}}

    def ask(key):
        texts = asks[key]
        return embeddings.embed_query(texts) if isinstance(texts, str) else embeddings.embed_documents_shared(texts)

    def open_when_all_wait():
        wait_until(lambda: batcher.waiting == len(asks))
        gate.set()

    opener = threading.Thread(target=open_when_all_wait)
    opener.start()
    results = ask_from_threads(ask, list(asks))
    opener.join()
    held.result(30)

    for key, texts in requests.items():
        assert len(results[key]) == len(texts)
        for text, vector in zip(texts, results[key]):
            assert np.allclose(vector, expected[text], atol=1e-5), (key, text)
    for question in QUESTIONS[:4]:
        assert np.allclose(results[question], expected[question], atol=1e-5)
    # every encode ran on the worker: the held one alone, then all eight requests in one batch
    assert set(counting.threads) == {batcher._worker.name}
    assert (batcher.batches, batcher.questions) == (2, 1 + len(asks))
    assert sorted(t for call in counting.calls[1:] for t in call) == sorted([*SENTENCES, *QUESTIONS[:4]])


def test_shared_documents_carry_the_document_prefix(sentence_transformer):
    embeddings = SentenceTransformerEmbeddings("e5-style", bundled_model_path(), query_prefix="query: ",
                                               document_prefix="passage: ", query_cache_size=0)
    embeddings._model = sentence_transformer
    try:
        texts = SENTENCES[:3]
        assert np.allclose(embeddings.embed_documents_shared(texts), embeddings.embed_documents(texts), atol=1e-5)
        assert np.allclose(embeddings.embed_query(QUESTIONS[0]),
                           direct(sentence_transformer, "query: " + QUESTIONS[0]), atol=1e-5)
        assert embeddings.embed_documents_shared([]) == []
    finally:
        embeddings.close()


def test_batch_max_1_turns_the_batcher_off(backend, sentence_transformer, monkeypatch):
    embeddings = backend(query_batch_max=1)
    seen_on = []
    original = sentence_transformer.encode
    monkeypatch.setattr(sentence_transformer, "encode",
                        lambda *a, **k: (seen_on.append(threading.current_thread()), original(*a, **k))[1])
    vector = embeddings.embed_query(QUESTIONS[0])
    assert embeddings.query_batcher() is None
    assert seen_on == [threading.current_thread()]
    assert np.allclose(vector, direct(sentence_transformer, QUESTIONS[0]), atol=1e-5)


def test_close_stops_the_worker_and_a_later_question_starts_a_new_one(backend, sentence_transformer):
    embeddings = backend()
    embeddings.embed_query(QUESTIONS[0])
    first = embeddings.query_batcher()
    embeddings.close()
    assert first.closed and not first._worker.is_alive()
    vector = embeddings.embed_query(QUESTIONS[1])
    assert embeddings.query_batcher() is not first
    assert np.allclose(vector, direct(sentence_transformer, QUESTIONS[1]), atol=1e-5)


def test_a_backend_nobody_holds_is_freed_and_its_worker_stops(sentence_transformer):
    embeddings = SentenceTransformerEmbeddings("all-MiniLM-L6-v2", bundled_model_path(), query_cache_size=0)
    embeddings._model = sentence_transformer
    embeddings.embed_query(QUESTIONS[0])
    worker = embeddings.query_batcher()._worker
    freed = weakref.ref(embeddings)
    del embeddings
    gc.collect()
    assert freed() is None
    worker.join(10)
    assert not worker.is_alive()


def test_settings_reach_the_backend(tmp_path):
    from application.settings import Settings
    from plugins import load_embeddings

    settings = Settings(DATA_DIR=tmp_path, EMBED_BATCH_WAIT_MS=5, EMBED_BATCH_MAX=8, EMBED_QUEUE_MAX=64,
                        QUERY_CACHE_SIZE=16)
    embeddings = load_embeddings("all-MiniLM-L6-v2", **settings.embedding_options())
    try:
        assert (embeddings.query_batch_wait_ms, embeddings.query_batch_max, embeddings.query_queue_max,
                embeddings.query_cache.size) == (5, 8, 64, 16)
        batcher = embeddings.query_batcher()
        assert (batcher.max_wait, batcher.max_batch, batcher.queue_max) == (0.005, 8, 64)
    finally:
        embeddings.close()


# -- the batcher alone: errors, back-pressure, shutdown -------------------------------------------------
def test_an_encode_error_reaches_the_callers_of_its_batch_only(sentence_transformer):
    with held_worker(sentence_transformer, fail_on="poison", max_wait_ms=50, max_batch=2) as (
            batcher, counting, gate, held):
        bad = [batcher.submit("poison"), batcher.submit("bad company")]
        good = [batcher.submit(QUESTIONS[0]), batcher.submit(QUESTIONS[1])]
        gate.set()

        assert np.allclose(held.result(30), direct(sentence_transformer, "held back"), atol=1e-5)
        for future in bad:
            with pytest.raises(RuntimeError, match="encode failed on 'poison'"):
                future.result(30)
        for future, question in zip(good, QUESTIONS):
            assert np.allclose(future.result(30), direct(sentence_transformer, question), atol=1e-5)
        assert counting.calls == [["held back"], ["poison", "bad company"], QUESTIONS[:2]]
        # the worker lives on after a failed batch
        assert np.allclose(batcher.embed(QUESTIONS[2]), direct(sentence_transformer, QUESTIONS[2]), atol=1e-5)


def test_a_full_queue_refuses_the_next_question_after_its_wait(sentence_transformer):
    with held_worker(sentence_transformer, max_batch=4, queue_max=2, enqueue_timeout=0.2) as (
            batcher, _counting, gate, held):
        queued = [batcher.submit(QUESTIONS[0]), batcher.submit(QUESTIONS[1])]
        with pytest.raises(EmbeddingQueueFull, match="2 requests already wait") as refused:
            batcher.embed(QUESTIONS[2])
        assert isinstance(refused.value, EmbeddingModelError)  # the API answers it with a 503
        gate.set()
        # room again once the worker moves on: nothing was lost
        assert np.allclose(held.result(30), direct(sentence_transformer, "held back"), atol=1e-5)
        for future, question in zip(queued, QUESTIONS):
            assert np.allclose(future.result(30), direct(sentence_transformer, question), atol=1e-5)
        assert np.allclose(batcher.embed(QUESTIONS[2]), direct(sentence_transformer, QUESTIONS[2]), atol=1e-5)


def test_shutdown_releases_every_waiting_caller(sentence_transformer):
    gate = threading.Event()
    counting = CountingEncode(sentence_transformer, gate)
    batcher = QueryBatcher(counting.as_batch_encode(), max_batch=4)
    outcomes: dict[str, object] = {}

    def ask(question):
        try:
            outcomes[question] = batcher.embed(question)
        except BaseException as exc:  # noqa: BLE001 - what the test looks at
            outcomes[question] = exc

    held = threading.Thread(target=ask, args=("held back",))
    held.start()
    assert counting.entered.wait(30)
    waiting = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS[:3]]
    for thread in waiting:
        thread.start()
    wait_until(lambda: batcher.waiting == 3)

    closer = threading.Thread(target=batcher.close)
    closer.start()
    for thread in waiting:  # released while the encode in progress is still held
        thread.join(30)
        assert not thread.is_alive()
    for question in QUESTIONS[:3]:
        assert isinstance(outcomes[question], BatcherClosed), outcomes[question]
    gate.set()  # the batch in progress finishes and is delivered; then the worker stops
    closer.join(30)
    held.join(30)
    assert np.allclose(outcomes["held back"], direct(sentence_transformer, "held back"), atol=1e-5)
    assert not batcher._worker.is_alive()
    with pytest.raises(BatcherClosed):
        batcher.embed(QUESTIONS[0])
    assert counting.calls == [["held back"]]


def test_bad_batcher_limits_are_refused():
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: texts, max_batch=0)
    with pytest.raises(ValueError):
        QueryBatcher(lambda texts: texts, max_texts=0)


def test_a_request_over_the_text_limit_waits_for_the_next_batch_and_a_long_one_goes_whole(sentence_transformer):
    with held_worker(sentence_transformer, max_batch=8, max_texts=8, max_wait_ms=0) as (batcher, counting, gate, held):
        first = batcher.submit_many(SENTENCES[:6])
        second = batcher.submit_many(SENTENCES[6:10])  # 6 + 4 > 8 texts: carried to the next batch
        long = batcher.submit_many(SENTENCES[10:20])  # more than max_texts alone: encoded whole
        question = batcher.submit(QUESTIONS[0])
        gate.set()
        assert np.allclose(held.result(30), direct(sentence_transformer, "held back"), atol=1e-5)
        for future, texts in ((first, SENTENCES[:6]), (second, SENTENCES[6:10]), (long, SENTENCES[10:20])):
            assert np.allclose(future.result(30), sentence_transformer.encode(texts, normalize_embeddings=True),
                               atol=1e-5)
        assert np.allclose(question.result(30), direct(sentence_transformer, QUESTIONS[0]), atol=1e-5)
        assert [sorted(call) for call in counting.calls] == [
            ["held back"], sorted(SENTENCES[:6]), sorted(SENTENCES[6:10]), sorted(SENTENCES[10:20]), [QUESTIONS[0]]]


def test_close_fails_a_carried_request_too():
    calls, started, release = [], threading.Semaphore(0), threading.Semaphore(0)

    def encode(texts):  # every call waits for the test
        calls.append(list(texts))
        started.release()
        assert release.acquire(timeout=30)
        return [[float(len(t))] for t in texts]

    batcher = QueryBatcher(encode, max_batch=4, max_texts=4, max_wait_ms=0)
    try:
        first = batcher.submit_many(["a1", "a2"])
        assert started.acquire(timeout=30)  # the worker encodes the first request
        second, third = batcher.submit_many(["b1", "b2", "b3"]), batcher.submit_many(["c1", "c2", "c3"])
        wait_until(lambda: batcher.waiting == 2)
        release.release()
        assert first.result(30) == [[2.0], [2.0]]
        assert started.acquire(timeout=30)  # the second is being encoded; the third, 3 + 3 > 4 texts, is carried
        assert batcher.waiting == 0
        closer = threading.Thread(target=batcher.close)
        closer.start()
        with pytest.raises(BatcherClosed):
            third.result(30)
        release.release()
        closer.join(30)
        assert second.result(30) == [[2.0]] * 3
        assert calls == [["a1", "a2"], ["b1", "b2", "b3"]]
    finally:
        release.release()
        batcher.close()


def test_encode_by_length_groups_similar_lengths_and_keeps_the_order():
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return [[float(len(t))] for t in texts]

    short = [f"sentence {i} of a chunk." for i in range(30)]
    passage = "a long passage " * 60  # 900 characters: alone, the sentences would be padded to it
    texts = [short[0], passage, *short[1:]]
    assert encode_by_length(encode, texts) == [[float(len(t))] for t in texts]
    assert sorted(map(len, calls)) == [1, 30] and [passage] in calls
    questions = [q[: 20 + 7 * i] for i, q in enumerate(QUESTIONS[:8])]  # 20..69 characters: one call
    calls.clear()
    encode_by_length(encode, questions)
    assert len(calls) == 1 and 8 * 69 - sum(map(len, questions)) <= PADDING_SLACK_CHARS
    with pytest.raises(EmbeddingModelError, match="returned 0 vectors for 2 texts"):
        encode_by_length(lambda texts: [], ["a", "b"])
    assert encode_by_length(encode, []) == []


# -- the cache ----------------------------------------------------------------------------------------
def test_a_repeated_question_is_served_from_the_cache_without_an_encode(backend, sentence_transformer, monkeypatch):
    embeddings = backend(query_cache_size=8)
    counting = CountingEncode(sentence_transformer)
    monkeypatch.setattr(sentence_transformer, "encode", counting)
    first = embeddings.embed_query(QUESTIONS[0])
    first_copy = list(first)
    first[0] = 123.0  # a caller changing its vector does not change the cached one
    again = embeddings.embed_query(QUESTIONS[0])
    assert again == first_copy
    assert len(counting.calls) == 1
    assert (embeddings.query_cache.hits, embeddings.query_cache.misses) == (1, 1)
    assert np.allclose(again, direct(sentence_transformer, QUESTIONS[0]), atol=1e-5)


def test_cache_size_0_turns_the_cache_off(backend, sentence_transformer, monkeypatch):
    embeddings = backend(query_cache_size=0)
    counting = CountingEncode(sentence_transformer)
    monkeypatch.setattr(sentence_transformer, "encode", counting)
    assert np.allclose(embeddings.embed_query(QUESTIONS[0]), embeddings.embed_query(QUESTIONS[0]), atol=1e-6)
    assert len(counting.calls) == 2
    assert len(embeddings.query_cache) == 0


def test_the_cache_keys_on_the_prefix_and_drops_the_least_recently_used():
    cache = VectorCache(2)
    cache.put(("model", "", "a"), [1.0])
    cache.put(("model", "", "b"), [2.0])
    assert cache.get(("model", "query: ", "a")) is None
    assert cache.get(("model", "", "a")) == [1.0]  # "a" is now the most recent
    cache.put(("model", "", "c"), [3.0])
    assert cache.get(("model", "", "b")) is None
    assert cache.get(("model", "", "a")) == [1.0] and cache.get(("model", "", "c")) == [3.0]
    assert len(cache) == 2
