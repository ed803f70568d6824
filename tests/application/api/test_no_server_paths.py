"""No server path reaches a client that is not the admin: ``/v1/embeddings`` takes model names,
never paths (a path is refused before anything is read), its errors name no folder, anonymous
``/ready`` says ok / not ok without paths, and sources are shown by their name, not by the folder
they were ingested from (``/api/search``, ``/stream``, ``/api/answer``, the stored conversation)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.application.api.conftest import ADMIN_TOKEN
from tests.application.api.helpers import ask, frame

DOC_NAMES = {"refunds.md", "shipping.txt", "office.html"}


def fake_version(folder: Path, model_path: str, version: str = "v0001") -> Path:
    """A ``version.json`` as the registry writes it, naming ``model_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "version.json").write_text(json.dumps(
        {"version": version, "model_path": model_path, "fingerprint": "planted-0123", "base_model": "b"}))
    return folder


def embed(client, model, headers):
    return client.post("/v1/embeddings", json={"input": "hello", "model": model}, headers=headers)


def test_a_model_name_that_is_a_path_is_refused_before_anything_is_read(make_app, admin_headers, chat_services,
                                                                        tmp_path):
    from plugins.sentence_transformers_backend import bundled_model_path

    models_dir = chat_services.settings.models_dir
    models_dir.mkdir(parents=True, exist_ok=True)  # as on a server that registered a version: "models/.." resolves
    # a folder outside the registry holding a version.json that names a real model: were it read, it would serve
    planted = fake_version(tmp_path / "planted", bundled_model_path())
    client = make_app().test_client()
    names = {
        "relative, out of the registry": os.path.relpath(planted, models_dir),
        "absolute": str(planted),
        "a model folder": bundled_model_path(),
        "the registry itself": str(models_dir),
        "home": "~/planted",
    }
    for what, name in names.items():
        response = embed(client, name, admin_headers)
        body = response.get_json()
        assert response.status_code == 404 and "data" not in body, (what, body)
        message = body["error"]["message"]
        assert "not paths" in message and "'active'" in message, (what, message)
        assert chat_services.serving.current.embeddings.fingerprint in message  # the names it takes instead
        for path in (str(tmp_path), str(models_dir.parent), bundled_model_path(), "/tmp"):
            assert path not in message, (what, message)


def test_model_names_are_the_serving_model_registry_versions_and_backends(make_settings, tmp_path):
    from application.api import close_app, create_app

    settings = make_settings(ADMIN_TOKEN=ADMIN_TOKEN, JOBS_WORKER="off", RATE_LIMIT_ENABLED=False)
    # registered, but its checkpoint is gone from the disk
    fake_version(settings.models_dir / "v0003", str(tmp_path / "gone" / "docstune-v0003"), "v0003")
    app = create_app(settings)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        client = app.test_client()
        fingerprint = app.extensions["docstune"].serving.current.embeddings.fingerprint
        for name in ("active", fingerprint, "all-MiniLM-L6-v2"):
            served = embed(client, name, headers)
            assert served.status_code == 200 and len(served.get_json()["data"][0]["embedding"]) == 384, name

        broken = embed(client, "v3", headers)
        unknown = embed(client, "v0042", headers)
        not_a_string = embed(client, ["v3"], headers)

        assert broken.status_code == 404 and "v0003 cannot be loaded on this server" in broken.get_data(as_text=True)
        assert unknown.status_code == 404 and "Unknown model 'v0042'" in unknown.get_data(as_text=True)
        assert "v0003" in unknown.get_json()["error"]["message"]  # what it may ask for instead
        assert not_a_string.status_code == 400
        for response in (broken, unknown, not_a_string):
            assert str(tmp_path) not in response.get_data(as_text=True), response.get_json()
    finally:
        close_app(app)


def test_anonymous_ready_names_no_path_and_the_admin_sees_the_details(make_app, admin_headers, chat_services):
    client = make_app().test_client()
    settings = chat_services.settings

    anonymous = client.get("/ready")
    admin = client.get("/ready", headers=admin_headers)

    assert anonymous.status_code == admin.status_code == 200
    body = anonymous.get_json()
    assert body["ok"] is True and all(body[check]["ok"] for check in ("database", "vector_store", "jobs", "llm"))
    assert body["embeddings"]["fingerprint"] == chat_services.serving.current.embeddings.fingerprint
    text = anonymous.get_data(as_text=True)
    for path in (str(settings.data_dir.resolve()), str(settings.data_dir), "jobs.db", "sqlite:"):
        assert path not in text, text
    assert admin.get_json()["jobs"]["queue"] == str(settings.jobs_db_file)


@pytest.mark.parametrize("route", ["/api/search", "/stream", "/api/answer", "stored"])
def test_sources_are_shown_by_their_name_not_their_folder_on_the_server(make_app, tmp_path_factory, route):
    client = make_app().test_client()
    question = "How long do refunds take?"
    owner = {"X-Owner-Token": f"paths-{route.strip('/').replace('/', '-')}"}
    if route == "/api/search":
        response = client.post("/api/search", json={"question": question, "chunks": 3})
        sources, text = response.get_json(), response.get_data(as_text=True)
    elif route == "/stream":
        frames = ask(client, question)
        sources, text = frame(frames, "source")["source"], json.dumps(frames)
    else:
        response = client.post("/api/answer", json={"question": question}, headers=owner)
        sources, text = response.get_json()["sources"], response.get_data(as_text=True)
        if route == "stored":
            stored = client.get(f"/api/conversations/{response.get_json()['conversation_id']}", headers=owner)
            sources, text = stored.get_json()["messages"][0]["sources"], stored.get_data(as_text=True)

    assert len(sources) >= 3 and {s["source"] for s in sources} <= DOC_NAMES, sources
    assert str(tmp_path_factory.getbasetemp()) not in text
