"""Admin: upload documents (ingested in the background with a task id), list and delete them."""
import io
import time

import pytest

from tests.application.api.helpers import answer_text, ask, frame

PENGUINS = b"# Penguin care\n\nThe Zorblax penguins are fed herring at seven in the morning by the keeper on duty.\n"
OTTERS = b"Otter enclosure\n\nThe otters of the Zorblax zoo sleep in a hollow log near the north pond.\n"


def wait_for(client, task_id, headers, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = client.get(f"/api/task_status?task_id={task_id}", headers=headers).get_json()
        if status["status"] in ("SUCCESS", "FAILURE"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish: {status}")


def upload(client, headers, *files):
    data = {"file": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/api/upload", data=data, headers=headers, content_type="multipart/form-data")


def test_uploaded_documents_are_ingested_in_the_background_and_answerable(client, admin_headers):
    response = upload(client, admin_headers, ("penguins.md", PENGUINS), ("otters.txt", OTTERS))

    assert response.status_code == 202
    accepted = response.get_json()
    assert accepted["files"] == ["penguins.md", "otters.txt"] and accepted["task_id"]
    status = wait_for(client, accepted["task_id"], admin_headers)
    try:
        assert status["status"] == "SUCCESS", status
        assert sorted(status["result"]["added"]) == ["otters.txt", "penguins.md"]
        assert status["progress"]["done"] == status["progress"]["total"] > 0 and status["progress"]["percent"] == 100.0
        listed = {s["uri"]: s for s in client.get("/api/sources", headers=admin_headers).get_json()}
        assert {"upload://penguins.md", "upload://otters.txt"} <= set(listed)

        frames = ask(client, "When are the Zorblax penguins fed?", chunks=1)
        assert "fed herring at seven in the morning" in answer_text(frames)
        assert frame(frames, "source")["source"][0]["source"] == "upload://penguins.md"
    finally:
        for uri in ("upload://penguins.md", "upload://otters.txt"):
            client.delete(f"/api/sources/{uri}", headers=admin_headers)

    assert "upload://penguins.md" not in {s["uri"] for s in client.get("/api/sources", headers=admin_headers).get_json()}
    hits = client.post("/api/search", json={"question": "When are the Zorblax penguins fed?"}).get_json()
    assert all("Zorblax" not in h["text"] for h in hits)


def test_a_document_that_cannot_be_read_makes_the_task_fail_with_the_reason(client, admin_headers):
    response = upload(client, admin_headers, ("broken.pdf", b"%PDF-1.4 this is not really a pdf"))

    status = wait_for(client, response.get_json()["task_id"], admin_headers)

    assert status["status"] == "FAILURE"
    assert status["result"]["failed"][0]["path"] == "broken.pdf" and status["result"]["failed"][0]["reason"]


@pytest.mark.parametrize(
    ("files", "status", "reason"),
    [
        ([("tool.exe", b"MZ...")], 400, "not a supported document type"),
        ([("notes", b"no extension")], 400, "not a supported document type"),
        ([("../../etc/evil.md", b"# evil")], 400, "Unsafe file name"),
        ([("docs/evil.md", b"# evil")], 400, "Unsafe file name"),
        ([("empty.txt", b"")], 400, "is empty"),
        ([("a.md", b"# a"), ("a.md", b"# b")], 400, "appears twice"),
        ([], 400, "Attach one or more documents"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(client, admin_headers, chat_data_dir, files, status, reason):
    before = client.get("/api/sources", headers=admin_headers).get_json()

    response = upload(client, admin_headers, *files)

    assert response.status_code == status
    assert reason in response.get_json()["error"]
    assert client.get("/api/sources", headers=admin_headers).get_json() == before
    assert not list((chat_data_dir / "uploads").glob("*/*")) if (chat_data_dir / "uploads").exists() else True


def test_an_upload_over_the_size_limit_is_a_413(make_app, admin_headers):
    client = make_app(UPLOAD_MAX_BYTES=1000).test_client()
    response = upload(client, admin_headers, ("big.txt", b"word " * 400))
    assert response.status_code == 413 and "UPLOAD_MAX_BYTES" in response.get_json()["error"]


def test_too_many_files_in_one_upload_are_refused(make_app, admin_headers):
    client = make_app(UPLOAD_MAX_FILES=2).test_client()
    response = upload(client, admin_headers, ("a.txt", b"a a a"), ("b.txt", b"b b b"), ("c.txt", b"c c c"))
    assert response.status_code == 400 and "the limit is 2" in response.get_json()["error"]


def test_unknown_tasks_and_sources_are_404(client, admin_headers):
    assert client.get("/api/task_status?task_id=nope", headers=admin_headers).status_code == 404
    response = client.delete("/api/sources/upload://never-uploaded.md", headers=admin_headers)
    assert response.status_code == 404 and response.get_json()["error"]


@pytest.mark.parametrize("name", ["..\\evil.md", "a\x00b.md", "..", "line\nbreak.md", "/etc/passwd.txt"])
def test_names_that_could_leave_the_upload_folder_are_refused_not_repaired(name):
    from application.errors import BadRequest
    from application.uploads import safe_upload_name

    with pytest.raises(BadRequest, match="Unsafe file name|not a supported"):
        safe_upload_name(name, frozenset({".md", ".txt"}))
    assert safe_upload_name("My notes.md", frozenset({".md"})) == "My_notes.md"
