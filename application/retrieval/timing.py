"""Where one request's time goes: named phases (embed, search, fuse, sql, llm, ...) recorded per request.

A request starts a :class:`Timings` (``timed()``); code anywhere below it wraps a phase in
``with phase("embed"):``, which costs two clock reads when a request is timed and nothing else
when none is (a job, the CLI). The recorder lives in a context variable, so threads serving other
requests never mix their phases in. The request logs the result at DEBUG (``log_timings``), and
``/api/search`` hands it to the admin (``"timings"``), so the next regression shows where it is.

Example::

    with timed() as timings:
        with phase("embed"):
            vector = model.embed_query(question)
    log_timings("search", timings)       # DEBUG  search: embed 4.1 ms, total 4.3 ms
    timings.as_ms()                      # {"embed": 4.1, "total": 4.3}
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

log = logging.getLogger(__name__)

_current: ContextVar["Timings | None"] = ContextVar("docstune_request_timings", default=None)


class Timings:
    """Seconds per named phase of one request, in the order the phases first ran; a phase that runs
    twice (two SQL reads) adds up."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.phases: dict[str, float] = {}
        self.total: float | None = None  # set by finish(): the request is complete

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    def finish(self) -> None:
        if self.total is None:
            self.total = time.perf_counter() - self.started

    def as_ms(self) -> dict[str, float]:
        """The phases and ``total`` in milliseconds, rounded to 0.01 ms."""
        total = self.total if self.total is not None else time.perf_counter() - self.started
        return {**{name: round(s * 1000, 2) for name, s in self.phases.items()}, "total": round(total * 1000, 2)}

    def describe(self) -> str:
        return ", ".join(f"{name} {ms:.1f} ms" for name, ms in self.as_ms().items())


def current() -> Timings | None:
    """The timings of the request being served in this context, or None."""
    return _current.get()


@contextmanager
def timed() -> Iterator[Timings]:
    """Time what runs inside (a request): phases recorded below go into the :class:`Timings` yielded.
    Inside another ``timed()`` (a benchmark timing whole requests) it records into that one."""
    timings = _current.get()
    if timings is not None:
        yield timings
        return
    timings = Timings()
    token = _current.set(timings)
    try:
        yield timings
    finally:
        _current.reset(token)


@contextmanager
def attached(timings: Timings | None) -> Iterator[None]:
    """Record into ``timings`` again: a streamed answer's generator runs after its view returned."""
    if timings is None:
        yield
        return
    token = _current.set(timings)
    try:
        yield
    finally:
        _current.reset(token)


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the time spent inside to phase ``name`` of the current request (nothing without one)."""
    timings = _current.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.add(name, time.perf_counter() - started)


def log_timings(what: str, timings: Timings) -> None:
    """One DEBUG line: ``<what>: embed 4.1 ms, search 2.0 ms, ..., total 9.8 ms``."""
    if log.isEnabledFor(logging.DEBUG):
        timings.finish()
        log.debug("%s: %s", what, timings.describe())
