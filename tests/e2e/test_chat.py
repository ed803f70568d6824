"""Chat in a real browser: ask, the answer streams and cites sources, rate, and the rating is exported."""
import json
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.timeout(180)


def test_ask_cite_rate_and_find_the_rating_in_the_export(page, server, artifacts):
    page.goto("/")
    expect(page.get_by_role("heading", name="Ask your documents")).to_be_visible()
    question = page.get_by_label("Ask a question about your documents")
    question.fill("How many steps does the keeper climb?")
    question.press("Enter")

    # the answer streams in, then the URL names the new conversation
    answer = page.get_by_test_id("answer").first
    expect(answer).to_contain_text("212 steps", timeout=60_000)
    expect(page.get_by_test_id("message").first).to_have_attribute("data-status", "done", timeout=60_000)
    expect(page).to_have_url(re.compile(r"/c/[^/]+$"))  # set once the stream has closed
    conversation_url = page.url

    # the citation [1] opens and highlights source 1, with its location, score and text
    answer.locator("a.cite").first.click()
    source = page.get_by_test_id("source").first
    expect(source).to_have_class("source highlighted")
    expect(source).to_contain_text("lighthouse.md")
    expect(source).to_contain_text("score")
    expect(source.get_by_role("button", name="Hide text")).to_have_attribute("aria-expanded", "true")
    expect(source).to_contain_text("climbs 212 steps")

    # rate the source, then the answer, with a comment
    page.get_by_role("button", name="Source 1 helped").click()
    expect(page.get_by_role("button", name="Source 1 helped")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Good answer").click()
    expect(page.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    page.get_by_label("Comment (optional)").fill("Exactly what I needed")
    page.get_by_role("button", name="Save comment").click()
    expect(page.get_by_role("button", name="Edit comment")).to_be_visible()
    page.screenshot(path=str(artifacts / "chat.png"), full_page=False)

    # the ratings survive a reload; the conversation is in the list
    page.reload()
    expect(page.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Source 1 helped")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("navigation", name="Conversations").get_by_role("button", name="How many steps does the keeper climb?", exact=True)).to_be_visible()
    assert page.url == conversation_url
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: the conversation list folds away
    expect(page.get_by_role("navigation", name="Conversations")).not_to_be_in_viewport()
    page.screenshot(path=str(artifacts / "chat-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 860})

    # the admin's export button downloads the rating with its marked source
    sign_in(page, "feedback")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export feedback (JSONL)").click()
    rows = [json.loads(line) for line in open(download.value.path(), encoding="utf-8") if line.strip()]
    mine = [r for r in rows if r["question"] == "How many steps does the keeper climb?"]
    assert len(mine) == 1, rows
    assert mine[0]["verdict"] == "like" and mine[0]["comment"] == "Exactly what I needed"
    assert list(mine[0]["sources"].values()) == ["relevant"]
    marked = next(iter(mine[0]["sources"]))
    assert any(r["chunk_id"] == marked and "212 steps" in r["text"] for r in mine[0]["retrieved"])


def test_conversations_can_be_renamed_switched_and_deleted(page):
    page.goto("/")
    question = page.get_by_label("Ask a question about your documents")
    question.fill("When does the bakery open?")
    question.press("Enter")
    expect(page.get_by_test_id("message").first).to_have_attribute("data-status", "done", timeout=60_000)
    expect(page.get_by_test_id("answer").first).to_contain_text("six in the morning")
    conversations = page.get_by_role("navigation", name="Conversations")
    conversations.get_by_role("button", name="Rename When does the bakery open?").click()
    page.get_by_label("New name").fill("Bakery hours")
    page.get_by_label("New name").press("Enter")
    expect(conversations.get_by_role("button", name="Bakery hours", exact=True)).to_be_visible()

    conversations.get_by_role("button", name="+ New chat").click()
    expect(page.get_by_role("heading", name="Ask your documents")).to_be_visible()
    conversations.get_by_role("button", name="Bakery hours", exact=True).click()
    expect(page.get_by_test_id("answer").first).to_contain_text("six in the morning")

    conversations.get_by_role("button", name="Delete Bakery hours").click()
    expect(conversations.get_by_role("button", name="Bakery hours", exact=True)).to_have_count(0)
    expect(page.get_by_role("heading", name="Ask your documents")).to_be_visible()
