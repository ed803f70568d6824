"""DocsGPT's published chat widget (npm package `docsgpt`, pinned in docsgpt_widget/package.json) on a
page of another origin, against a live `docstune serve`, in Chromium: open it, ask, a streamed answer with
sources, a follow-up in the same conversation, thumbs up; then the messages and the rating are in
DocsTune's database under the owner of the API key the page was given.

The widget's node_modules come from `npm ci` with the lock file, installed once per lock file into a
cache folder outside the repository (DOCSTUNE_E2E_CACHE, default ~/.cache/docstune-e2e)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import ADMIN_TOKEN, _with_documents
from tests.live_server import free_port, run_live_server

pytestmark = pytest.mark.timeout(600)

WIDGET_PAGE = Path(__file__).resolve().parent / "docsgpt_widget"
CACHE = Path(os.environ.get("DOCSTUNE_E2E_CACHE") or Path.home() / ".cache" / "docstune-e2e")
BUNDLE = Path("node_modules") / "docsgpt" / "dist" / "modern" / "browser.js"
FIRST_QUESTION = "How many steps does the keeper climb?"
FOLLOW_UP = "When does the bakery close on Sundays?"
LIKED = "rgb(136, 96, 219)"  # the widget's stroke of a pressed thumbs up (#8860DB)


def installed_widget() -> Path:
    """The folder holding node_modules for the lock file (`npm ci --ignore-scripts`, once per lock file)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: install Node.js 20 with npm (`make test` needs it for the web UI too)",
                    pytrace=False)
    lock = (WIDGET_PAGE / "package-lock.json").read_bytes()
    target = CACHE / f"docsgpt-widget-{hashlib.sha256(lock).hexdigest()[:16]}"
    if (target / BUNDLE).exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".docsgpt-widget-", dir=CACHE))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(WIDGET_PAGE / name, staging / name)
        done = subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=staging, check=False,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not (staging / BUNDLE).exists():
            pytest.fail(f"`npm ci` of the DocsGPT widget failed ({done.returncode}):\n{done.stderr[-3000:]}",
                        pytrace=False)
        try:
            staging.rename(target)  # atomic: a half-installed folder is never taken for a finished one
        except OSError:  # another run installed it meanwhile
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def widget_site(tmp_path_factory):
    """The test page on its own local HTTP server (another port: another origin than DocsTune)."""
    installed = installed_widget()
    root = tmp_path_factory.mktemp("widget-site")
    shutil.copy(WIDGET_PAGE / "index.html", root / "index.html")
    (root / "node_modules").symlink_to(installed / "node_modules", target_is_directory=True)
    http = ThreadingHTTPServer(("127.0.0.1", free_port()), partial(QuietHandler, directory=str(root)))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_address[1]}"
    http.shutdown()
    http.server_close()


@pytest.fixture(scope="module")
def docstune(tmp_path_factory, widget_site):
    """A live DocsTune that lets the widget's site call it (CORS_ALLOWED_ORIGINS), with two documents."""
    data_dir = tmp_path_factory.mktemp("widget-e2e") / "data"
    with run_live_server(data_dir, ADMIN_TOKEN=ADMIN_TOKEN, RATE_LIMIT_ENABLED="false",
                         CORS_ALLOWED_ORIGINS=widget_site) as live:
        yield _with_documents(live)


@pytest.fixture
def widget_key(docstune) -> dict:
    response = requests.post(f"{docstune['url']}/api/admin/api_keys", headers=docstune["admin"],
                             json={"name": "harbour site widget"}, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def stored_under(data_dir: Path, owner: str) -> list[dict]:
    """Every conversation in DocsTune's database, as {owner, messages: [{position, question, answer, status,
    ratings: [(voter, verdict)]}]}, read with the server's own models."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from application.db import Database
    from application.db.chat import Conversation, Message
    from application.settings import Settings

    db = Database(Settings(DATA_DIR=data_dir).database_url_resolved)
    try:
        with db.session() as session:
            conversations = session.scalars(
                select(Conversation).options(selectinload(Conversation.messages).selectinload(Message.feedback))
            ).all()
            return [
                {"id": c.id, "owner": c.owner, "mine": c.owner == owner, "messages": [
                    {"position": m.position, "question": m.question, "answer": m.answer, "status": m.status,
                     "sources": len(m.retrieved), "ratings": [(f.voter, f.verdict) for f in m.feedback]}
                    for m in c.messages]}
                for c in conversations
            ]
    finally:
        db.dispose()


def test_docsgpts_widget_asks_follows_up_and_rates_through_docstune(browser, docstune, widget_site, widget_key,
                                                                      artifacts):
    from application.chat.owners import api_key_owner

    api = docstune["url"]
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(60_000)
    # nothing leaves the machine: the widget's default images and links point at the internet
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sent: list[dict] = []  # what the widget sends DocsTune (the browser's CORS preflights are not shown)

    def record(request):
        if request.url.startswith(api):
            sent.append({"method": request.method, "url": request.url, "headers": request.headers,
                         "body": request.post_data_json if request.post_data else None})

    page.on("request", record)
    try:
        page.goto(f"{widget_site}/?apiHost={api}&apiKey={widget_key['key']}")
        page.get_by_text("Ask a question").click()  # the floating button opens the widget
        prompt = page.get_by_placeholder("Ask your question")

        # ask: the answer streams in with its sources
        prompt.fill(FIRST_QUESTION)
        prompt.press("Enter")
        expect(page.get_by_text("212 steps").first).to_be_visible()
        expect(page.locator("a[title='The Brightwater lighthouse']").first).to_be_visible()
        thumbs = page.locator("button[style*='transparent']")  # like, dislike under each answer
        expect(thumbs).to_have_count(2)
        page.screenshot(path=str(artifacts / "docsgpt-widget-answer.png"))

        # a follow-up in the same conversation (the widget sends the conversation id it got back)
        prompt.fill(FOLLOW_UP)
        expect(page.locator("form button")).to_be_enabled()  # the widget is idle again: "end" came
        prompt.press("Enter")
        expect(page.get_by_text("noon").first).to_be_visible()
        expect(thumbs).to_have_count(4)
        page.screenshot(path=str(artifacts / "docsgpt-widget-follow-up.png"))

        # thumbs up on the follow-up's answer
        thumbs.nth(2).hover()
        with page.expect_response(f"{api}/api/feedback") as rated:
            thumbs.nth(2).click()
        assert rated.value.status == 200, rated.value.text()
        expect(thumbs.nth(2).locator("svg")).to_have_css("stroke", LIKED)
        page.screenshot(path=str(artifacts / "docsgpt-widget-liked.png"))
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"

    # what the published widget sent: each body carries the key; none of it is a cookie
    streams = [r["body"] for r in sent if r["url"] == f"{api}/stream"]
    feedback = [r["body"] for r in sent if r["url"] == f"{api}/api/feedback"]
    assert [s["question"] for s in streams] == [FIRST_QUESTION, FOLLOW_UP]
    assert {s["api_key"] for s in streams} == {widget_key["key"]}
    assert streams[0]["conversation_id"] is None and streams[1]["conversation_id"]
    [rating] = feedback
    assert "noon" in rating.pop("answer")
    assert rating == {"question": FOLLOW_UP, "feedback": "LIKE", "api_key": widget_key["key"],
                      "conversation_id": streams[1]["conversation_id"], "question_index": 1}
    assert all(r["method"] == "POST" and r["headers"].get("content-type") == "application/json" for r in sent)

    # DocsTune's database: one conversation, both turns, the rating: all under the key's owner
    owner = api_key_owner(widget_key["id"])
    [conversation] = stored_under(docstune["data_dir"], owner)
    assert conversation["mine"] and conversation["id"] == streams[1]["conversation_id"]
    first, second = conversation["messages"]
    assert (first["position"], first["question"], first["status"]) == (0, FIRST_QUESTION, "ok")
    assert (second["position"], second["question"], second["status"]) == (1, FOLLOW_UP, "ok")
    assert "212 steps" in first["answer"] and "noon" in second["answer"] and first["sources"] > 0
    assert first["ratings"] == [] and second["ratings"] == [(owner, "like")]
