"""Transactions that retry when concurrent writers collide (SQLite's "database is
locked" on a busy snapshot, PostgreSQL serialization failures, two inserts racing
for one unique key): each attempt is a fresh transaction that reads again."""
from __future__ import annotations

import random
import time
from typing import Callable, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

T = TypeVar("T")
_TRANSIENT = ("database is locked", "database table is locked", "deadlock", "could not serialize", "busy")


def _transient(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # a racing insert of the same key; the next attempt sees it and updates instead
    return any(word in str(exc).lower() for word in _TRANSIENT)


def write(db, work: Callable[[Session], T], attempts: int = 8) -> T:
    """Run ``work(session)`` in one transaction; retry the whole of it on a transient conflict."""
    for attempt in range(attempts):
        try:
            with db.session() as session:
                return work(session)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def read(db, work: Callable[[Session], T]) -> T:
    with db.session() as session:
        return work(session)
