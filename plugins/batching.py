"""Concurrent questions share the model: a micro-batcher and an LRU cache for query embeddings.

``QueryBatcher`` gives one model one worker thread. Callers hand it a question and wait; the worker takes
the first question waiting and those queued behind it, waits up to ``max_wait_ms`` for more when the last
batch had company (at most ``max_batch`` in all), encodes them in one call and gives each caller its own
vector. One ``model.encode`` of 8 questions costs
far less than 8 of one (the fixed cost per call, tokenizer and Python overhead, is paid once), so 8 clients
no longer queue behind each other one question at a time. An encode that fails fails the callers of that
batch only; a full queue makes a caller wait up to ``enqueue_timeout`` and then refuses it
(``EmbeddingQueueFull``: back-pressure instead of an unbounded backlog); ``close()`` fails whoever still
waits, so nobody hangs, and every batcher still open is closed at process exit.

A request that needs several texts at once (the offline answerer's sentences) hands them over together
(``embed_many``); they join the same batches, up to ``max_texts`` texts a batch. So one thread runs the
model for every request of the process: each thread that runs torch keeps an OpenMP team of its own, and
with more teams than cores every team sleeps between the forward pass's many small parallel regions and
pays a wake-up for each (docs/performance.md). A batch is encoded in groups of similar length
(``encode_by_length``): padding to the longest text is what a mixed batch costs.

``VectorCache`` keeps the vectors of recent questions (least recently used out first); a repeated question
costs a dictionary look-up instead of an encode.

Example::

    from plugins.batching import QueryBatcher, VectorCache

    batcher = QueryBatcher(lambda texts: model.encode(texts).tolist(), max_wait_ms=2, max_batch=32)
    vector = batcher.embed("how do refunds work?")  # from any number of threads at once
    batcher.close()

    cache = VectorCache(1024)
    key = (fingerprint, prefix, "how do refunds work?")
    if (vector := cache.get(key)) is None:
        cache.put(key, vector := embed(...))
"""
from __future__ import annotations

import atexit
from array import array
import os
import queue
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import Future, InvalidStateError
from typing import Callable, Hashable, Sequence

from plugins.base import EmbeddingModelError

Vector = list[float]
Encode = Callable[[list[str]], Sequence[Sequence[float]]]

# the defaults of EMBED_BATCH_WAIT_MS, EMBED_BATCH_MAX, EMBED_QUEUE_MAX and QUERY_CACHE_SIZE
DEFAULT_BATCH_WAIT_MS = 2.0
DEFAULT_BATCH_MAX = 32
DEFAULT_QUEUE_MAX = 256
DEFAULT_CACHE_SIZE = 1024
# a caller that finds the queue full waits this long for room before it is refused (back-pressure)
DEFAULT_ENQUEUE_TIMEOUT = 10.0
# texts one batch may hold in all (questions and the texts handed over by embed_many); the first request
# taken is encoded whole however many texts it has
DEFAULT_MAX_TEXTS = 256
# padding (characters) a group of encode_by_length may carry before a longer text starts a group of its own:
# about 500 tokens, what one more encode call costs in fixed overhead
PADDING_SLACK_CHARS = 2000
# how often a waiting caller checks that the worker is still alive (it never waits on a dead one)
_LIVENESS_CHECK_SECONDS = 1.0
_STOP = object()


class EmbeddingQueueFull(EmbeddingModelError):
    """Too many questions wait for the embedding model; the caller should retry shortly (HTTP 503)."""


class BatcherClosed(EmbeddingModelError):
    """The batcher was shut down (the process is stopping or the model was unloaded)."""


class QueryBatcher:
    """One worker thread that encodes the questions of many threads in shared batches.

    ``encode(texts) -> vectors`` is called from the worker only, with 1..``max_batch`` texts, and must
    return one vector per text in order. ``max_wait_ms`` bounds how long the first question of a batch
    waits for company; ``queue_max`` bounds how many questions may wait at all.
    """

    def __init__(self, encode: Encode, *, max_wait_ms: float = DEFAULT_BATCH_WAIT_MS,
                 max_batch: int = DEFAULT_BATCH_MAX, queue_max: int = DEFAULT_QUEUE_MAX,
                 enqueue_timeout: float = DEFAULT_ENQUEUE_TIMEOUT, max_texts: int = DEFAULT_MAX_TEXTS,
                 name: str = "query-batcher"):
        if max_batch < 1 or queue_max < 1 or max_texts < 1 or max_wait_ms < 0 or enqueue_timeout < 0:
            raise ValueError("max_batch, max_texts and queue_max must be >= 1, max_wait_ms and enqueue_timeout >= 0")
        self._encode = encode
        self.max_wait = max_wait_ms / 1000.0
        self.max_batch = max_batch
        self.max_texts = max(max_texts, max_batch)
        self.queue_max = queue_max
        self.enqueue_timeout = enqueue_timeout
        self.name = name
        self.pid = os.getpid()  # a forked child has no worker thread: its owner makes a new batcher
        self.batches = 0  # batches encoded, and the requests they carried (what batching saved)
        self.questions = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_max)
        self._closed = threading.Event()
        self._company = False  # did the last batch carry more than one request?
        self._carried = None  # a request taken from the queue that did not fit in the last batch
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()
        _open_batchers.add(self)

    # -- callers ------------------------------------------------------------------------------
    def submit(self, text: str, timeout: float | None = None) -> Future:
        """Queue one question; its future gets the vector. Waits up to ``timeout`` (default
        ``enqueue_timeout``) for room in a full queue, then raises ``EmbeddingQueueFull``."""
        return self._submit((text,), timeout, single=True)

    def submit_many(self, texts: Sequence[str], timeout: float | None = None) -> Future:
        """Queue several texts as one request; its future gets their vectors, in order."""
        return self._submit(tuple(texts), timeout, single=False)

    def _submit(self, texts: tuple[str, ...], timeout: float | None, single: bool) -> Future:
        if self._closed.is_set():
            raise BatcherClosed(f"{self.name} is shut down; the embedding model is no longer served.")
        future: Future = Future()
        if not texts:
            future.set_result([])
            return future
        wait = self.enqueue_timeout if timeout is None else timeout
        try:
            self._queue.put((texts, future, single), timeout=wait)
        except queue.Full:
            raise EmbeddingQueueFull(
                f"{self.queue_max} requests already wait for the embedding model (waited {wait:g} s for room): "
                f"the server is overloaded. Retry shortly, or raise EMBED_QUEUE_MAX / add capacity."
            ) from None
        return future

    def embed(self, text: str) -> Vector:
        """The vector of ``text``, encoded in a batch with whatever other questions arrive at the same time."""
        return self._wait(self.submit(text), (text,), single=True)

    def embed_many(self, texts: Sequence[str]) -> list[Vector]:
        """The vectors of ``texts``, in order, encoded by the worker with whatever else arrives meanwhile."""
        texts = tuple(texts)
        return self._wait(self.submit_many(texts), texts, single=False)

    def _wait(self, future: Future, texts: tuple[str, ...], single: bool):
        while True:
            try:
                return future.result(timeout=_LIVENESS_CHECK_SECONDS)
            except TimeoutError:
                # the worker fails every request it leaves behind; this covers one that slipped
                # into the queue while close() was emptying it
                if not self._worker.is_alive():
                    self._fail([(texts, future, single)],
                               BatcherClosed(f"{self.name} shut down; the text was not embedded."))

    @property
    def waiting(self) -> int:
        """Questions queued, not yet taken by the worker."""
        return self._queue.qsize()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop the worker. Queued questions fail with ``BatcherClosed``; a batch already being encoded
        finishes and is delivered. Waits up to ``timeout`` for the worker; safe to call twice."""
        if self._closed.is_set():
            return
        self._closed.set()
        _open_batchers.discard(self)
        self._fail_queued()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:  # a submit raced in after the queue was emptied: the worker sees _closed anyway
            pass
        if threading.current_thread() is not self._worker:
            self._worker.join(timeout)
        self._fail_queued()

    # -- the worker ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._closed.is_set():
            first, self._carried = self._carried or self._queue.get(), None
            if first is _STOP or self._closed.is_set():
                if first is not _STOP:
                    self._fail([first], BatcherClosed(f"{self.name} shut down before the text was embedded."))
                break
            batch = [first]
            questions, texts = int(first[2]), len(first[0])
            # wait for company only when the last batch had some: a lone caller (one client, a loop that
            # embeds questions one by one) pays no wait at all; requests already queued join in any case
            deadline = time.monotonic() + (self.max_wait if self._company else 0.0)
            while questions < self.max_batch and texts < self.max_texts:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._closed.set()
                    break
                if texts + len(item[0]) > self.max_texts:
                    self._carried = item  # the first of the next batch
                    break
                batch.append(item)
                questions += item[2]
                texts += len(item[0])
            if self._closed.is_set():
                self._fail(batch, BatcherClosed(f"{self.name} shut down before the text was embedded."))
                break
            self._company = len(batch) > 1
            self._encode_batch(batch)
        self._fail_queued()

    def _encode_batch(self, batch: list[tuple[tuple[str, ...], Future, bool]]) -> None:
        # a caller that gave up (cancelled its future) is skipped; the others still get their vectors
        live = [item for item in batch if item[1].set_running_or_notify_cancel()]
        if not live:
            return
        texts = [text for item in live for text in item[0]]
        try:
            vectors = encode_by_length(self._encode, texts)
        except BaseException as exc:  # noqa: BLE001 - delivered to this batch's callers, the worker lives on
            self._fail(live, exc)
            return
        self.batches += 1
        self.questions += len(live)
        start = 0
        for item_texts, future, single in live:
            mine = [list(vector) for vector in vectors[start:start + len(item_texts)]]
            start += len(item_texts)
            future.set_result(mine[0] if single else mine)

    @staticmethod
    def _fail(batch: list[tuple[tuple[str, ...], Future, bool]], exc: BaseException) -> None:
        for _, future, _single in batch:
            try:
                future.set_exception(exc)
            except InvalidStateError:  # cancelled by its caller, or already failed by it
                pass

    def _fail_queued(self) -> None:
        pending = [self._carried] if self._carried not in (None, _STOP) else []
        self._carried = None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                pending.append(item)
        if pending:
            self._fail(pending, BatcherClosed(f"{self.name} shut down before the text was embedded."))


def encode_by_length(encode: Encode, texts: Sequence[str]) -> list:
    """``encode(texts)``, in one call per group of texts of similar length, vectors in the order of ``texts``.

    A batch is padded to its longest text: one long passage among short sentences made the whole batch cost
    as if all were that long (measured: a third of the offline answerer's time on the 10-K's chunks). Each
    call has a fixed cost too, so texts stay in one group while the padding they add stays under
    ``PADDING_SLACK_CHARS`` (questions of a batch: one call)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors: list = [None] * len(texts)
    start = 0
    while start < len(order):
        end, total = start + 1, len(texts[order[start]])
        while end < len(order):
            longest = len(texts[order[end]])
            if (end - start + 1) * longest - (total + longest) > PADDING_SLACK_CHARS:
                break
            total += longest
            end += 1
        group = order[start:end]
        encoded = encode([texts[i] for i in group])
        if len(encoded) != len(group):
            raise EmbeddingModelError(f"The embedding model returned {len(encoded)} vectors for {len(group)} texts.")
        for i, vector in zip(group, encoded):
            vectors[i] = vector
        start = end
    return vectors


_open_batchers: weakref.WeakSet[QueryBatcher] = weakref.WeakSet()


@atexit.register
def _close_open_batchers() -> None:
    for batcher in list(_open_batchers):
        batcher.close(timeout=5.0)


class VectorCache:
    """The ``size`` most recently used vectors (0: no cache), safe across threads: the backend's recent
    questions, the offline answerer's sentences (``application.llm.extractive``).

    Keys are whatever identifies a vector exactly; the backend uses (fingerprint, prefix, text). ``get``
    returns a copy, so a caller that changes its vector does not change the cached one.
    """

    def __init__(self, size: int):
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size = size
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, array] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Vector | None:
        if not self.size:
            return None
        with self._lock:
            vector = self._entries.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return list(vector)

    def put(self, key: Hashable, vector: Sequence[float]) -> None:
        if not self.size:
            return
        # a copy no caller can reach; float32 holds exactly what the encoders return (float32 as Python
        # floats) in a sixth of a tuple's memory (1.5 kB for 384 dimensions)
        stored = array("f", vector)
        with self._lock:
            self._entries[key] = stored
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
