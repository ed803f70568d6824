"""The retrieval workbench in a real browser: one question, the dense and the lexical pipeline side by side."""
import re

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

# the model reads "buy a loaf" as the bakery; BM25 only sees the word "sunset", which is the lighthouse's
QUESTION = "Where can I buy a loaf at sunset?"


@pytest.mark.timeout(120)
def test_the_workbench_compares_two_pipelines_on_one_question(page, server, artifacts):
    # a rated answer first, so the chunks it retrieved carry their rating into the workbench
    owner = {"X-Owner-Token": "e2e-workbench-rater"}
    answer = requests.post(f"{server['url']}/api/answer", headers=owner, timeout=60,
                           json={"question": QUESTION, "chunks": 2}).json()
    rated = requests.post(f"{server['url']}/api/feedback", headers=owner, timeout=10,
                          json={"message_id": answer["message_id"], "feedback": "like"})
    assert rated.status_code == 200, rated.text

    sign_in(page, "workbench")
    expect(page.get_by_role("heading", name="Workbench", exact=True)).to_be_visible()
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Mode of A").select_option("dense")
    page.get_by_label("Mode of B").select_option("lexical")
    page.get_by_role("button", name="Compare").click()

    dense, lexical = page.get_by_test_id("workbench-column-A"), page.get_by_test_id("workbench-column-B")
    expect(dense.get_by_role("heading")).to_have_text("A: serving · dense")
    expect(lexical.get_by_role("heading")).to_have_text("B: serving · lexical")
    dense_rows, lexical_rows = dense.get_by_test_id("workbench-hit"), lexical.get_by_test_id("workbench-hit")
    expect(dense_rows.first).to_be_visible()
    assert dense_rows.count() >= 2 and lexical_rows.count() >= 1

    # the dense pipeline ranks the bakery first; the lexical leg never returned it at all
    bakery = dense_rows.first
    expect(bakery).to_contain_text("#1")
    expect(bakery).to_contain_text("Harbour bakery")
    expect(bakery.get_by_test_id("dense-leg")).to_have_text(re.compile(r"^dense #1 0\.\d{3}$"))
    expect(bakery.get_by_test_id("lexical-leg")).to_have_text("lexical —")
    expect(bakery).to_contain_text("not in B")
    expect(bakery.get_by_test_id("rated")).to_have_text(re.compile(r"^rated: [1-9]\d* liked, \d+ disliked"))
    expect(lexical.get_by_test_id("workbench-hit").filter(has_text="Harbour bakery")).to_have_count(0)

    # the lighthouse is the lexical pipeline's first, and lower in the dense one: each side says where it is
    lighthouse = lexical_rows.first
    expect(lighthouse).to_contain_text("The Brightwater lighthouse")
    expect(lighthouse.get_by_test_id("lexical-leg")).to_have_text(re.compile(r"^lexical #1 \d+\.\d{3}$"))
    expect(lighthouse.get_by_test_id("dense-leg")).to_have_text(re.compile(r"^dense #([2-9]|\d\d+) "))
    expect(lighthouse.get_by_test_id("moved")).to_have_text(re.compile(r"^▼ A #([2-9]|\d\d+)$"))
    in_dense = dense_rows.filter(has_text="The Brightwater lighthouse").first
    expect(in_dense.get_by_test_id("moved")).to_have_text("▲ B #1")
    page.screenshot(path=str(artifacts / "workbench.png"), full_page=True)
