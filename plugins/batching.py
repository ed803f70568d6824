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
                 enqueue_timeout: float = DEFAULT_ENQUEUE_TIMEOUT, name: str = "query-batcher"):
        if max_batch < 1 or queue_max < 1 or max_wait_ms < 0 or enqueue_timeout < 0:
            raise ValueError("max_batch and queue_max must be >= 1, max_wait_ms and enqueue_timeout >= 0")
        self._encode = encode
        self.max_wait = max_wait_ms / 1000.0
        self.max_batch = max_batch
        self.queue_max = queue_max
        self.enqueue_timeout = enqueue_timeout
        self.name = name
        self.pid = os.getpid()  # a forked child has no worker thread: its owner makes a new batcher
        self.batches = 0  # encode calls made, and the questions they carried (what batching saved)
        self.questions = 0
        self._queue: queue.Queue = queue.Queue(maxsize=queue_max)
        self._closed = threading.Event()
        self._company = False  # did the last batch carry more than one question?
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()
        _open_batchers.add(self)

    # -- callers ------------------------------------------------------------------------------
    def submit(self, text: str, timeout: float | None = None) -> Future:
        """Queue one question; its future gets the vector. Waits up to ``timeout`` (default
        ``enqueue_timeout``) for room in a full queue, then raises ``EmbeddingQueueFull``."""
        if self._closed.is_set():
            raise BatcherClosed(f"{self.name} is shut down; the embedding model is no longer served.")
        future: Future = Future()
        wait = self.enqueue_timeout if timeout is None else timeout
        try:
            self._queue.put((text, future), timeout=wait)
        except queue.Full:
            raise EmbeddingQueueFull(
                f"{self.queue_max} questions already wait for the embedding model (waited {wait:g} s for room): "
                f"the server is overloaded. Retry shortly, or raise EMBED_QUEUE_MAX / add capacity."
            ) from None
        return future

    def embed(self, text: str) -> Vector:
        """The vector of ``text``, encoded in a batch with whatever other questions arrive at the same time."""
        future = self.submit(text)
        while True:
            try:
                return future.result(timeout=_LIVENESS_CHECK_SECONDS)
            except TimeoutError:
                # the worker fails every question it leaves behind; this covers a question that slipped
                # into the queue while close() was emptying it
                if not self._worker.is_alive():
                    self._fail([(text, future)], BatcherClosed(f"{self.name} shut down; the question was not embedded."))

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
            first = self._queue.get()
            if first is _STOP or self._closed.is_set():
                if first is not _STOP:
                    self._fail([first], BatcherClosed(f"{self.name} shut down before the question was embedded."))
                break
            batch = [first]
            # wait for company only when the last batch had some: a lone caller (one client, a loop that
            # embeds questions one by one) pays no wait at all; questions already queued join in any case
            deadline = time.monotonic() + (self.max_wait if self._company else 0.0)
            while len(batch) < self.max_batch:
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._closed.set()
                    break
                batch.append(item)
            if self._closed.is_set():
                self._fail(batch, BatcherClosed(f"{self.name} shut down before the question was embedded."))
                break
            self._company = len(batch) > 1
            self._encode_batch(batch)
        self._fail_queued()

    def _encode_batch(self, batch: list[tuple[str, Future]]) -> None:
        # a caller that gave up (cancelled its future) is skipped; the others still get their vectors
        live = [(text, future) for text, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            vectors = self._encode([text for text, _ in live])
            if len(vectors) != len(live):
                raise EmbeddingModelError(f"The embedding model returned {len(vectors)} vectors for {len(live)} texts.")
        except BaseException as exc:  # noqa: BLE001 - delivered to this batch's callers, the worker lives on
            self._fail(live, exc)
            return
        self.batches += 1
        self.questions += len(live)
        for (_, future), vector in zip(live, vectors):
            future.set_result(list(vector))

    @staticmethod
    def _fail(batch: list[tuple[str, Future]], exc: BaseException) -> None:
        for _, future in batch:
            try:
                future.set_exception(exc)
            except InvalidStateError:  # cancelled by its caller, or already failed by it
                pass

    def _fail_queued(self) -> None:
        pending = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                pending.append(item)
        if pending:
            self._fail(pending, BatcherClosed(f"{self.name} shut down before the question was embedded."))


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
