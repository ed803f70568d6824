"""Sources in a real browser: an uploaded .docx is searchable with its heading path in the chat, and the
Documents page lists the upload source with its document count."""
import io
import re

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
REFUND_FACT = "Refunds are paid within 14 days to the original card"


def _refunds_docx() -> bytes:
    """A Word document as a person writes one: a Heading 1 (the title), a Heading 2, paragraphs under each."""
    import docx

    document = docx.Document()
    document.add_heading("Refund policy", level=1)
    document.add_paragraph("Customers may cancel an order until it has been shipped.")
    document.add_heading("Card payments", level=2)
    document.add_paragraph(f"{REFUND_FACT}. A refund for a cancelled order is never paid in cash or as a voucher.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.timeout(180)
def test_an_uploaded_docx_shows_its_heading_in_the_sources_and_its_upload_source_is_listed(page, server, artifacts):
    url, admin = server["url"], server["admin"]
    sign_in(page, "documents")
    page.locator("#upload-input").set_input_files([{"name": "refunds.docx", "mimeType": DOCX_MIME, "buffer": _refunds_docx()}])
    expect(page.get_by_test_id("upload").first).to_contain_text("Ingested", timeout=90_000)
    expect(page.get_by_test_id("document-row").filter(has_text="refunds.docx")).to_have_count(1)

    # the chat finds the fact, and its source shows the document's heading path
    page.goto("/")
    question = page.get_by_label("Ask a question about your documents")
    question.fill("How many days until refunds are paid to the original card?")
    question.press("Enter")
    expect(page.get_by_test_id("answer").first).to_contain_text("14 days", timeout=60_000)
    expect(page.get_by_test_id("message").first).to_have_attribute("data-status", "done", timeout=60_000)
    cited = page.get_by_test_id("source").filter(has_text="refunds.docx").first
    expect(cited.locator(".source-title")).to_contain_text("Refund policy")
    # the title (the Heading 1), then the heading path below it down to the passage
    expect(cited.locator(".source-title")).to_have_text("Refund policy › Card payments")
    page.screenshot(path=str(artifacts / "chat-docx-heading.png"), full_page=False)

    # the document belongs to the upload source, which the Documents page lists with its document count
    [document] = [d for d in requests.get(f"{url}/api/sources", headers=admin, timeout=10).json()
                  if d["uri"].endswith("refunds.docx")]
    assert document["sync_source_id"], document
    [upload_source] = [s for s in requests.get(f"{url}/api/admin/sources", headers=admin, timeout=10).json()
                       if s["id"] == document["sync_source_id"]]
    assert upload_source["kind"] == "upload" and upload_source["document_count"] >= 1, upload_source
    count = upload_source["document_count"]

    page.goto("/admin/documents")
    card = page.locator(f'[data-testid="sync-source"][data-source-id="{upload_source["id"]}"]')
    expect(card).to_have_count(1)
    expect(card).to_contain_text(upload_source["name"])
    expect(card.locator(".kind-badge")).to_have_text("upload")
    expect(card.get_by_test_id("document-count")).to_have_text(f"{count} document{'' if count == 1 else 's'}")
    expect(card.get_by_role("button", name=re.compile(r"^Sync "))).to_have_count(0)  # nothing upstream to fetch again
    expect(page.get_by_role("form", name="Add a source")).to_be_visible()
    page.screenshot(path=str(artifacts / "documents-sources.png"), full_page=True)
