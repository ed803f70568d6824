"""Everything a team keeps goes in and answers in the chat: every format (made by the libraries that write it),
a scanned PDF and a photo of text (real tesseract), web pages (a sitemap of a local site) and a git repository
(a local one); each question asked through the chat API is answered from the right document, and its source
shows where in the document the answer is."""
from __future__ import annotations

import json

import pytest

from tests.application.api.helpers import answer_text, ask, frame
from tests.application.ingest.samples import (Bullets, Table, make_csv, make_docx, make_epub, make_ipynb,
                                              make_pptx, make_scanned_pdf, make_text_image, make_xlsx)
from tests.git_repo import GitRepo
from tests.web_site import Sitemap, html_page, serve_site

# (question, a phrase the answer must quote, the file the answer comes from, what its source shows)
QUESTIONS = [
    ("How long do refunds to the original card take?", "within 14 days", "handbook.docx", "Refunds"),
    ("What did the marmot migration reach in Q3?", "marmot migration reached", "results.pptx", "slide 2"),
    ("Which warehouse stores the tungsten sprockets?", "Tungsten sprockets", "stock.xlsx", "sheet Stock"),
    ("Which city does Ada Quixley live in?", "Quixley", "people.csv", "rows"),
    ("How do I calibrate the zephyr loom?", "zephyr loom", "guide.epub", "chapter"),
    ("How is the gravel index normalised?", "gravel index", "analysis.ipynb", None),
    ("What does the obsidian kettle protocol require?", "obsidian kettle", "protocol.rst", "Protocol"),
    ("What is the wombat ferry fare?", "wombat ferry", "fares.json", None),
    ("What is the total due on invoice 4711?", "120 EUR", "invoice.png", None),
    ("When was the scanned quince treaty signed?", "3 May 1921", "treaty.pdf", "OCR"),
]


@pytest.fixture
def everything(make_settings, tmp_path):
    from application import create_app
    from application.api import close_app
    from application.container import DocsTune

    folder = tmp_path / "team"
    folder.mkdir()
    make_docx(folder / "handbook.docx", title="Staff handbook", sections=[
        ("Refunds", ["Refunds to the original card are paid within 14 days of the return.",
                     Bullets(["Keep the receipt", "Bring the card"]),
                     Table([["Item", "Return window"], ["Shoes", "30 days"]])]),
        ("Parking", ["Bicycles are parked in the basement garage."])])
    make_pptx(folder / "results.pptx", slides=[
        ("Agenda", ["Results", "Plans"], None),
        ("Q3 results", ["The marmot migration reached 4,200 animals in Q3."], "Mention the new burrows.")])
    make_xlsx(folder / "stock.xlsx", {"Stock": [["Part", "Warehouse", "Count"],
                                                ["Tungsten sprockets", "Hamburg north depot", 120],
                                                ["Brass hinges", "Lyon south depot", 40]]})
    make_csv(folder / "people.csv", [["name", "city", "team"], ["Ada Quixley", "Reykjavik", "Ledger"],
                                     ["Bo Tanner", "Porto", "Design"]])
    make_epub(folder / "guide.epub", title="Loom guide", chapters=[
        ("Setup", "<p>Unpack the frame and oil the shuttle.</p>"),
        ("Calibration", "<p>To calibrate the zephyr loom, turn the tension dial until the warp hums at "
                        "440 Hz.</p>")])
    make_ipynb(folder / "analysis.ipynb", [("markdown", "# Gravel analysis\n\nThe gravel index is normalised "
                                                       "by the median grain size of each quarry."),
                                           ("code", "index = gravel / median_grain", "SECRET-OUTPUT-BLOB")])
    (folder / "protocol.rst").write_text("Kettle handbook\n===============\n\nProtocol\n--------\n\nThe obsidian "
                                         "kettle protocol requires two wardens and a sealed lid.\n\nStorage\n-------\n\n"
                                         "Kettles are stored upside down in the east pantry.\n")
    (folder / "fares.json").write_text(json.dumps({"fares": [
        {"route": "wombat ferry", "note": "The wombat ferry fare is 7 silver coins each way."},
        {"route": "otter bus", "note": "The otter bus is free on Sundays."}]}))
    make_text_image(folder / "invoice.png", ["Invoice 4711", "Total due: 120 EUR"])
    make_scanned_pdf(folder / "treaty.pdf", ["THE QUINCE TREATY", "Signed in Ghent on 3 May 1921"])

    services = DocsTune(make_settings(WEB_ALLOW_PRIVATE=True, WEB_DELAY_SECONDS=0, SYNC_DELETE_GRACE_HOURS=0,
                                      RATE_LIMIT_ENABLED=False, LLM_PROVIDER="extractive"))
    app = create_app(services.settings, services=services)
    app.config["TESTING"] = True
    try:
        yield folder, services, app.test_client()
    finally:
        close_app(app)
        services.close()


def test_every_format_a_scan_a_web_site_and_a_git_repository_answer_in_the_chat(everything, tmp_path):
    folder, services, client = everything
    report = services.documents.ingest_paths([folder])
    assert not report.failed, report.failed
    assert len(report.added) == len(QUESTIONS)

    for question, phrase, name, where in QUESTIONS:
        frames = ask(client, question, chunks=3)
        sources = frame(frames, "source")["source"]
        top = sources[0]
        assert top["source"] == name, (question, [s["source"] for s in sources])
        assert phrase.lower() in answer_text(frames).lower(), (question, answer_text(frames))
        if where:
            shown = " ".join([*(top["headings"] or []), top["location"] or ""])
            assert where in shown, (question, top)
    everything_text = " ".join(s["text"] for s in frame(ask(client, "gravel index", chunks=5), "source")["source"])
    assert "SECRET-OUTPUT-BLOB" not in everything_text  # never a notebook's outputs

    # a web site (a sitemap of a real local site) and a git repository (a local one)
    with serve_site() as site:
        site.pages["/docs/install"] = html_page("Installing the heron crane", "<h2>Power</h2><p>The heron crane "
                                                "runs on a 48 volt battery pack.</p>")
        site.pages["/sitemap.xml"] = Sitemap(["/docs/install"])
        web = services.sources.add("web", site.url("/sitemap.xml"), options={"mode": "sitemap"})
        assert len(services.sources.sync(web["id"]).added) == 1
    repo = GitRepo.create(tmp_path / "repo")
    repo.write("docs/ops/backup.md", "# Backups\n\n## Schedule\n\nThe pelican backups run at 02:30 every night.\n")
    repo.write("src/main.py", "print('not a document')\n")
    commit = repo.commit("backups")
    git = services.sources.add("git", repo.url, options={"include": ["docs/**"]})
    assert len(services.sources.sync(git["id"]).added) == 1

    frames = ask(client, "What battery does the heron crane run on?", chunks=2)
    top = frame(frames, "source")["source"][0]
    assert "48 volt" in answer_text(frames) and top["link"] == site.url("/docs/install")
    frames = ask(client, "When do the pelican backups run?", chunks=2)
    top = frame(frames, "source")["source"][0]
    assert "02:30" in answer_text(frames) and top["source"].endswith("docs/ops/backup.md")
    assert top["headings"] == ["Schedule"]
    document = next(d for d in services.documents.list() if d["uri"].endswith("docs/ops/backup.md"))
    assert document["origin"] == f"docs/ops/backup.md @ {commit[:7]}"
