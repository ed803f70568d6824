"""The admin console in a real browser: upload → searchable, jobs, feedback stats, retrain → a new version."""
import time

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

OBSERVATORY = b"# Hilltop observatory\n\nThe hilltop observatory has a copper-green dome that opens on clear nights.\n"


@pytest.mark.timeout(180)
def test_an_uploaded_file_becomes_searchable_and_can_be_deleted(page):
    page.goto("/admin")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    sign_in(page, "documents")

    page.locator("#upload-input").set_input_files([{"name": "observatory.md", "mimeType": "text/markdown", "buffer": OBSERVATORY}])
    upload = page.get_by_test_id("upload").first
    expect(upload).to_contain_text("Ingested", timeout=90_000)
    row = page.get_by_test_id("document-row").filter(has_text="observatory.md")
    expect(row).to_have_count(1)
    expect(row.locator("td.num")).to_have_text("1")

    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_test_id("job-row").filter(has_text="ingest").first).to_be_visible()

    page.goto("/")
    question = page.get_by_label("Ask a question about your documents")
    question.fill("What colour is the observatory dome?")
    question.press("Enter")
    expect(page.get_by_test_id("answer").first).to_contain_text("copper-green dome", timeout=60_000)
    expect(page.get_by_test_id("source").first).to_contain_text("observatory.md")

    page.goto("/admin/documents")
    page.get_by_role("button", name="Delete Hilltop observatory").click()
    expect(page.get_by_test_id("document-row").filter(has_text="observatory.md")).to_have_count(0)


def _seed_rated_answers(server, count: int) -> None:
    """Documents about distinct gadgets and one rated answer about each (the data a retrain needs)."""
    files = [("file", (f"gadget{i}.md", f"# Gadget zq{i}x1\n\nThe zq{i}x1 gadget is stored in cabinet {i} of the workshop. "
                                         f"It was built in {1900 + i}.\n".encode())) for i in range(count)]
    task_id = requests.post(f"{server['url']}/api/upload", headers=server["admin"], files=files, timeout=30).json()["task_id"]
    deadline = time.monotonic() + 120
    while requests.get(f"{server['url']}/api/task_status", params={"task_id": task_id}, headers=server["admin"],
                       timeout=10).json()["status"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    owner = {"X-Owner-Token": "e2e-person-who-rates-answers"}
    for i in range(count):
        body = requests.post(f"{server['url']}/api/answer", headers=owner, timeout=60,
                             json={"question": f"Where is the zq{i}x1 gadget stored?", "chunks": 3}).json()
        marks = {s["chunk_id"]: ("relevant" if f"zq{i}x1" in s["text"] else "irrelevant") for s in body["sources"]}
        rated = requests.post(f"{server['url']}/api/feedback", headers=owner, timeout=10, json={
            "message_id": body["message_id"], "feedback": "like" if "relevant" in marks.values() else "dislike", "sources": marks})
        assert rated.status_code == 200, rated.text


@pytest.mark.timeout(420)
def test_retrain_shows_the_new_version_with_its_metrics_and_report(page, server, artifacts):
    _seed_rated_answers(server, 14)
    sign_in(page, "feedback")
    expect(page.get_by_test_id("stat-total")).not_to_have_text("0")
    expect(page.get_by_test_id("latest-rating").first).to_be_visible()

    page.get_by_role("link", name="Models").click()
    expect(page.get_by_test_id("serving")).to_contain_text("base model")
    # the pipeline around the model: no tune yet, so the measured default weight, said so
    expect(page.get_by_test_id("serving-retrieval")).to_contain_text("dense share 0.50")
    expect(page.get_by_test_id("serving-retrieval")).to_contain_text("default")
    page.get_by_label("Loss").select_option("mnrl")
    page.get_by_label("Epochs").fill("1")
    page.get_by_role("button", name="Start retraining").click()
    expect(page.get_by_test_id("building")).to_contain_text("retrain", timeout=15_000)

    row = page.get_by_test_id("version-row").filter(has_text="v0001")
    expect(row).to_be_visible(timeout=300_000)
    cells = row.locator("td.num")
    expect(cells.nth(0)).to_have_text(__import__("re").compile(r"^\d\.\d{3}"))  # MRR@10 (vs parent)
    expect(cells.nth(1)).to_have_text(__import__("re").compile(r"^\d\.\d{3}"))  # hit@5 (vs parent)
    row.get_by_role("button", name="Report").click()
    report = page.get_by_test_id("report")
    expect(report.locator("img.plot")).to_be_visible(timeout=15_000)
    expect(report).to_contain_text("mrr")
    expect(report).to_contain_text("lexical")  # the gate judged pipelines: every mode side by side
    expect(report).to_contain_text("bootstrap interval")  # paired, per question
    # 14 ratings are far from GATE_MIN_QUESTIONS: the verdict says so, and the version is not promoted
    expect(row).to_contain_text("not enough evidence")
    expect(row.get_by_test_id("judged-on")).to_contain_text("the set as it is now")
    expect(page.get_by_test_id("serving")).to_contain_text("base model")
    expect(page.get_by_test_id("serving-evaluation")).to_contain_text("(the set as it is now)")
    page.screenshot(path=str(artifacts / "models.png"), full_page=True)


def _stored_api_keys(data_dir) -> list[dict]:
    """The api_keys table of the live server's SQLite database, read with the server's own model. Read-only:
    a writable connection of another process may checkpoint the server's WAL when it closes."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from application.db.api_keys import ApiKey

    engine = create_engine(f"sqlite:///file:{data_dir / 'docstune.db'}?mode=ro&uri=true")
    try:
        with Session(engine) as session:
            return [{"id": k.id, "name": k.name, "key_hash": k.key_hash, "sources": k.sources}
                    for k in session.scalars(select(ApiKey))]
    finally:
        engine.dispose()


@pytest.mark.timeout(120)
def test_an_api_key_is_shown_once_listed_and_revoked(page, server, artifacts):
    from application.chat.api_keys import hash_key

    url, name = server["url"], "e2e harbour site widget"
    lighthouse = next(s for s in requests.get(f"{url}/api/sources", headers=server["admin"], timeout=10).json()
                      if s["title"] == "The Brightwater lighthouse")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    sign_in(page, "documents")
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()

    page.get_by_label("Name").fill(name)
    page.get_by_label("The Brightwater lighthouse").check()
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-key")
    expect(shown).to_contain_text("it will not be shown again")
    key = shown.get_by_label("The new API key").input_value()
    assert key.startswith("dtk_") and len(key) > 30, key
    shown.get_by_role("button", name="Copy").click()
    expect(shown.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == key
    expect(page.get_by_test_id("widget-snippet")).to_contain_text(f'apiKey: "{key}"')
    expect(page.get_by_test_id("widget-snippet")).to_contain_text(f'apiHost: "{url}"')
    row = page.get_by_test_id("api-key-row").filter(has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"{key[:8]}…")
    expect(row).to_contain_text("The Brightwater lighthouse")
    expect(row).to_contain_text("never")
    page.screenshot(path=str(artifacts / "api-keys.png"), full_page=True)

    # created: in the list (never the key), in the database as its hash, and it works with its one source
    [listed] = [k for k in requests.get(f"{url}/api/admin/api_keys", headers=server["admin"], timeout=10).json()
                if k["name"] == name]
    assert "key" not in listed and listed["sources"] == [lighthouse["id"]] and key.startswith(listed["prefix"])
    [stored] = [k for k in _stored_api_keys(server["data_dir"]) if k["id"] == listed["id"]]
    assert stored["key_hash"] == hash_key(key) and key not in str(stored)
    found = requests.post(f"{url}/api/search", json={"question": "When does the bakery open?", "api_key": key}, timeout=30)
    assert found.status_code == 200, found.text
    assert found.json() and {s["source_id"] for s in found.json()} == {lighthouse["id"]}

    # shown once: a reload lists the key without it
    page.reload()
    expect(row).to_have_count(1)
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert key not in page.content()

    # revoke, after a confirmation: gone from the page, the API and the database; the key no longer works
    page.get_by_role("button", name=f"Revoke {name}").click()
    expect(row).to_have_count(1)
    page.get_by_role("group", name=f"Confirm revoking {name}").get_by_role("button", name="Yes, revoke").click()
    expect(row).to_have_count(0)
    assert name not in [k["name"] for k in requests.get(f"{url}/api/admin/api_keys", headers=server["admin"], timeout=10).json()]
    assert listed["id"] not in [k["id"] for k in _stored_api_keys(server["data_dir"])]
    refused = requests.post(f"{url}/api/search", json={"question": "When does the bakery open?", "api_key": key}, timeout=30)
    assert refused.status_code == 401, refused.text
