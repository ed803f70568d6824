"""The container: resources built once, bottom-up; an app's view shares them and closes only its own part."""
from __future__ import annotations

from application.container import DocsTune
from application.readiness import readiness


def test_the_serving_index_is_built_from_the_containers_own_resources(services):
    assert services.serving.store_handle is services.store
    assert services.serving.models is services.models
    assert services.sources.serving is services.serving and services.documents.serving is services.serving
    assert not services.store.is_open  # nothing searched yet: the vector folder is not taken


def test_an_apps_view_shares_the_resources_with_its_own_settings_and_llm(make_settings, docs_dir):
    root = DocsTune(make_settings())
    try:
        root.documents.ingest_paths([docs_dir])
        view = root.for_app(make_settings(LLM_PROVIDER="extractive", HISTORY_MAX_MESSAGES=3))
        assert view.db is root.db and view.serving is root.serving and view.jobs is root.jobs
        assert view.settings.history_max_messages == 3 != root.settings.history_max_messages
        assert view.llm is not root.llm and view.llm.name == root.llm.name
        view.close()  # the view's close leaves the shared resources open
        assert root.store.is_open
        assert root.serving.search("refund within 30 days", k=1)[0].title == "Refund policy"
        assert readiness(root)["ok"] is True
    finally:
        root.close()
    assert not root.store.is_open and root._jobs is None
