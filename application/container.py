"""``DocsTune``: everything a process (or one app) serves with, built once, bottom-up.

The database, the vector store (opened on first use) and the model loader come first; the serving
index is made from them (``application.retrieval.serving``), then the sources, the document library
and the job runtime (made on first use). The API reaches it through ``app.extensions["docstune"]``
(``application.api.context.docstune``), the CLI through ``application.cli.docstune``, and each
job handler is called with it. Nothing here knows about HTTP.

Example::

    app = DocsTune(Settings())
    app.documents.ingest_paths(["docs/"])
    app.serving.search("How long do refunds take?")
    app.close()

Tests share one container between many Flask apps: ``for_app(settings)`` is a view with that app's
settings, LLM, prompt template, admin token and worker, over the same resources (closing a view leaves
them open).
"""
from __future__ import annotations

import copy
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from application.db import Database
from application.ingest.library import DocumentLibrary
from application.ingest.sync import SourceSync
from application.retrieval.model_loader import ModelLoader
from application.retrieval.serving import ServingIndex
from application.retrieval.store_handle import VectorStoreHandle
from application.settings import Settings, get_settings
from application.vectorstore import VectorStore

if TYPE_CHECKING:
    from application.jobs.runtime import AppJobs, JobRuntime
    from application.llm import LLM, PromptTemplate


class DocsTune:
    def __init__(self, settings: Settings):
        self.settings = settings
        settings.create_data_dir()
        self.db = Database(settings.database_url_resolved)
        import application.db.api_keys  # noqa: F401  (register the tables)
        import application.db.evaluation  # noqa: F401
        import application.db.jobs  # noqa: F401
        import application.db.models  # noqa: F401

        self.db.migrate()
        self.store = VectorStoreHandle(settings)
        self.models = ModelLoader(settings)
        # the serving collection, its model and its retrieval settings, as one object
        self.serving = ServingIndex(self.db, settings, self.store, self.models)
        self.sources = SourceSync(self.db, self.serving, settings)
        self.documents = DocumentLibrary(self.db, self.serving, self.sources, settings)
        # the app's side (create_app sets them): the token admin routes check, the worker it hosts
        self.admin_token: str | None = None
        self.app_jobs: AppJobs | None = None
        self._root = self  # the container that owns the resources (a view's is the one it was made from)
        self._jobs: JobRuntime | None = None
        self._lock = threading.Lock()

    def for_app(self, settings: Settings) -> DocsTune:
        """A view over these resources with one app's own settings (and so its own LLM, template, token)."""
        view = copy.copy(self)
        view.settings = settings
        for name in ("llm", "template"):  # cached per view
            view.__dict__.pop(name, None)
        view.admin_token = None
        view.app_jobs = None
        return view

    @property
    def vector_store(self) -> VectorStore:
        """The vector store, opened now if it is not open yet."""
        return self.store.get()

    @property
    def jobs(self) -> JobRuntime:
        """The background job runtime (queue, worker, job rows) of this process; its handlers get the owner."""
        root = self._root
        if root._jobs is None:
            with root._lock:
                if root._jobs is None:
                    from application.jobs.handlers import HANDLERS
                    from application.jobs.runtime import JobRuntime

                    root._jobs = JobRuntime(root, HANDLERS)
        return root._jobs

    @cached_property
    def llm(self) -> LLM:
        """The LLM the settings ask for; the extractive answerer embeds with the serving model."""
        from application.llm import create_llm

        return create_llm(self.settings, self.serving.serving_model)

    @cached_property
    def template(self) -> PromptTemplate:
        from application.llm import PromptTemplate

        return PromptTemplate.load(self.settings.prompt_file)

    def close(self) -> None:
        """Stop this app's worker; the owner also stops the job runtime and closes the store and database."""
        app_jobs, self.app_jobs = self.app_jobs, None
        if app_jobs is not None:
            app_jobs.shutdown(wait=True)  # an ingestion in progress finishes (it is not resumable)
        if self._root is not self:
            return
        jobs, self._jobs = self._jobs, None
        if jobs is not None:
            jobs.stop_worker(wait=True)
        self.store.close()
        self.serving.reset()
        self.db.dispose()


def build_container(settings: Settings | None = None) -> DocsTune:
    return DocsTune(settings or get_settings())
