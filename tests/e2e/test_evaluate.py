"""The admin's Evaluate page in a real browser: an uploaded IR JSON (three questions about the e2e documents, with
reference answers) answered by the serving / dense / hybrid preset with the offline extractive answerer, then
the summary table, the score-against-latency plot and the report."""
import json

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DOCS, sign_in

HARBOUR_SET = {
    "queries": {"steps": "How many steps does the lighthouse keeper climb?",
                "opens": "When does the harbour bakery open?",
                "sunday": "When does the bakery close on Sundays?"},
    "corpus": {**{f"{name}#{i}": part.strip() for name, text in DOCS.items()
                  for i, part in enumerate(text.split("\n\n")) if part.strip()}},
    "relevant_docs": {"steps": ["lighthouse.md#1"], "opens": ["bakery.md#1"], "sunday": ["bakery.md#2"]},
    "answers": {"steps": "The keeper climbs 212 steps.", "opens": "At six in the morning.",
                "sunday": "It closes at noon on Sundays."},
}


@pytest.mark.timeout(240)
def test_an_uploaded_set_is_evaluated_with_the_preset_and_shown_as_a_table_and_a_plot(page, artifacts):
    assert "212 steps" in HARBOUR_SET["corpus"]["lighthouse.md#1"] and "noon" in HARBOUR_SET["corpus"]["bakery.md#2"]
    sign_in(page, "evaluate")
    expect(page.get_by_role("heading", name="Evaluate")).to_be_visible()
    expect(page.get_by_test_id("frozen-size")).to_contain_text("question")

    page.get_by_label("an IR JSON file").check()
    page.get_by_label("IR JSON file", exact=True).set_input_files(
        [{"name": "harbour.json", "mimeType": "application/json", "buffer": json.dumps(HARBOUR_SET).encode()}])
    expect(page.get_by_test_id("upload-size")).to_have_text("harbour.json: 3 questions")
    page.get_by_role("button", name="Preset: serving / dense / hybrid").click()
    expect(page.get_by_test_id("pipeline-row")).to_have_count(3)
    page.get_by_label("Reference").select_option("answers")
    page.get_by_label("Users", exact=True).fill("250")
    page.get_by_role("button", name="Run").click()

    rows = page.get_by_test_id("evaluation-row")
    expect(rows).to_have_count(3, timeout=180_000)
    expect(rows.locator("th")).to_have_text(["serving", "dense", "hybrid"])
    for i in range(3):
        cells = rows.nth(i).locator("td")
        expect(cells.nth(0)).to_have_text("3/3")  # answered of the questions
        expect(cells.nth(1)).to_have_text("—")  # no judge is configured
        expect(cells.nth(2)).not_to_have_text("—")  # similarity to the reference answers
        expect(cells.nth(10)).to_have_text("$0")  # the extractive answerer costs nothing
        expect(cells.nth(11)).to_have_text("$0")
    expect(page.get_by_test_id("judge-note")).to_contain_text("No judge")
    expect(page.get_by_text("Costs for 250 users")).to_be_visible()

    plot = page.get_by_role("img", name="against full answer latency")
    expect(plot.get_by_test_id("plot-point")).to_have_count(3)
    expect(plot.locator("text", has_text="hybrid")).to_be_visible()
    page.get_by_label("Evaluation results").screenshot(path=str(artifacts / "evaluate-results.png"))

    with page.expect_download() as download:
        page.get_by_role("button", name="Download report.md").click()
    report = download.value.path().read_text(encoding="utf-8")
    assert download.value.suggested_filename == "report.md"
    assert "harbour.json" in report and "hybrid" in report
