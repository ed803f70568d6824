"""The vector store, opened on first use: an embedded Qdrant Edge folder is locked by the process that
opens it, so a command that never searches (``docstune keys``, a worker with JOBS_WORKER=off) leaves it free."""
from __future__ import annotations

import threading

from application.settings import Settings
from application.vectorstore import VectorStore, create_vector_store


class VectorStoreHandle:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._store: VectorStore | None = None
        self._lock = threading.Lock()

    def get(self) -> VectorStore:
        """The store, opened now if it is not open yet."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = create_vector_store(self.settings)
        return self._store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
