import json
from pathlib import Path

import pytest

from application.ingest.parsers import DocumentError, parse_file
from tests.conftest import make_encrypted_pdf, make_pdf


def test_pdf_pages_keep_their_numbers(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(make_pdf(["Revenue grew by ten percent.", "", "Costs fell in the third quarter."]))
    document = parse_file(path)
    assert document.kind == "pdf"
    assert [(s.page, s.text) for s in document.sections] == [
        (1, "Revenue grew by ten percent."),
        (3, "Costs fell in the third quarter."),
    ]


def test_html_drops_scripts_and_styles_and_uses_the_title(tmp_path):
    path = tmp_path / "page.html"
    path.write_text("<html><head><title>Handbook</title><style>p{}</style></head><body><p>Hello <b>team</b></p>"
                    "<script>steal()</script></body></html>")
    document = parse_file(path)
    assert document.title == "Handbook"
    assert "Hello" in document.sections[0].text and "team" in document.sections[0].text
    assert "steal" not in document.sections[0].text and "p{}" not in document.sections[0].text


def test_markdown_title_is_the_first_heading(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("Intro line\n\n# The Guide\n\nBody")
    assert parse_file(path).title == "The Guide"


def test_non_utf8_text_is_decoded_not_refused(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Le café coûte trois euros. Déjà payé, merci beaucoup à vous.".encode("cp1252"))
    assert "café coûte" in parse_file(path).sections[0].text


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("empty.txt", b"", "is empty"),
        ("blank.md", b"  \n\n\t ", "has no text"),
        ("program.txt", bytes(range(256)) * 4, "binary"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "not a readable PDF"),
        ("data.xyz", b"hello", "unsupported type"),
    ],
)
def test_unreadable_files_raise_a_readable_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason):
        parse_file(path)


def test_an_encrypted_pdf_says_to_decrypt_it(tmp_path):
    with pytest.raises(DocumentError, match="encrypted PDF"):
        parse_file(make_encrypted_pdf(tmp_path))


def test_cyrillic_windows_text_is_decoded_too(tmp_path):
    path = tmp_path / "ru.txt"
    path.write_bytes("Привет, как дела? Это тестовый документ о возврате денег.".encode("cp1251"))
    assert "возврате денег" in parse_file(path).sections[0].text


def test_every_supported_type_has_a_short_kind_and_is_recognised():
    from application.ingest.parsers import PARSERS, SUPPORTED_EXTENSIONS, is_supported

    assert set(SUPPORTED_EXTENSIONS) >= {".txt", ".md", ".html", ".pdf", ".docx", ".pptx", ".xlsx", ".csv",
                                         ".epub", ".ipynb", ".rst", ".json", ".jsonl", ".png", ".jpg", ".jpeg"}
    assert set(PARSERS) == set(SUPPORTED_EXTENSIONS)
    assert is_supported(Path("Report.DOCX")) and not is_supported(Path("archive.zip"))


def test_markdown_is_cut_at_its_headings_with_the_title_left_out_of_the_paths(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text(
        "# Install guide\n\nRead this first.\n\n"
        "## On Debian\n\nUse apt.\n\n```sh\n# a comment, not a heading\napt-get install docstune\n```\n\n"
        "### Upgrades\n\nRun it again.\n\n"
        "Troubleshooting\n---------------\n\nCheck the logs.\n"
    )
    document = parse_file(path)
    assert (document.title, document.kind) == ("Install guide", "md")
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Read this first."),
        (("On Debian",), "Use apt.\n\n```sh\n# a comment, not a heading\napt-get install docstune\n```"),
        (("On Debian", "Upgrades"), "Run it again."),
        (("Troubleshooting",), "Check the logs."),
    ]


def test_markdown_front_matter_gives_the_title_and_is_not_text(tmp_path):
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: \"Release notes\"\nlayout: post\n---\n\n## Fixes\n\nThe login works again.\n")
    document = parse_file(path)
    assert document.title == "Release notes"
    assert [(s.headings, s.text) for s in document.sections] == [(("Fixes",), "The login works again.")]


def test_html_is_cut_at_h1_to_h6_and_keeps_lists_and_tables(tmp_path):
    path = tmp_path / "refunds.html"
    path.write_text(
        "<html><head><title>Refunds | ACME Help</title></head><body><nav>Home | Help</nav>"
        "<h1>Refunds</h1><p>Money back, <em>no questions</em> asked.</p>"
        "<h2>Timing</h2><p>It takes 14 days.</p><ul><li>Cards: 3 days</li><li><p>Transfers: 5 days</p></li></ul>"
        "<table><tr><th>Item</th><th>Days</th></tr><tr><td>Shoes</td><td>30</td></tr></table>"
        "<h3>Holidays</h3><p>Add two days.</p><footer>© ACME</footer></body></html>"
    )
    document = parse_file(path)
    assert document.title == "Refunds | ACME Help"
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Money back, no questions asked."),
        (("Timing",), "It takes 14 days.\n\n- Cards: 3 days\n- Transfers: 5 days\n\n"
                      "| Item | Days |\n|---|---|\n| Shoes | 30 |"),
        (("Timing", "Holidays"), "Add two days."),
    ]


def test_rst_sections_become_heading_paths_and_include_directives_read_nothing(tmp_path):
    path = tmp_path / "guide.rst"
    path.write_text(
        "==========\nUser Guide\n==========\n\nWelcome.\n\n"
        "Install\n=======\n\nRun the installer.\n\n.. include:: /etc/passwd\n\n.. toctree::\n\n   other\n\n"
        "On Debian\n---------\n\n- apt one\n- apt two\n\n"
        "Usage\n=====\n\nSee :ref:`usage`.\n"
    )
    document = parse_file(path)
    assert (document.title, document.kind) == ("User Guide", "rst")
    assert [(s.headings, s.text) for s in document.sections] == [
        ((), "Welcome."),
        (("Install",), "Run the installer."),
        (("Install", "On Debian"), "- apt one\n- apt two"),
        (("Usage",), "See :ref:`usage`."),
    ]
    assert all("root:" not in s.text for s in document.sections)


def test_json_keeps_strings_with_their_key_path_and_skips_numbers_and_ids(tmp_path):
    path = tmp_path / "faq.json"
    path.write_text(json.dumps({
        "title": "Help centre FAQ",
        "id": "3f1c2a7e-1b2c-4d5e-8f90-123456789abc",
        "version": 3,
        "faq": [{"id": 17, "question": "How long do refunds take?", "answer": "Fourteen days.",
                 "userId": "u-1", "paid": "by card"}],
    }))
    document = parse_file(path)
    assert (document.title, document.kind) == ("Help centre FAQ", "json")
    # small keys share a section; each line keeps its key path
    [section] = document.sections
    assert section.text == ("title: Help centre FAQ\nfaq[0].question: How long do refunds take?\n"
                            "faq[0].answer: Fourteen days.\nfaq[0].paid: by card")


def test_a_long_json_list_is_grouped_into_records_located_by_item(tmp_path):
    path = tmp_path / "tickets.json"
    path.write_text(json.dumps({"tickets": [{"id": n, "subject": f"Printer {n} on the third floor is jammed"}
                                            for n in range(1, 201)]}))
    sections = parse_file(path).sections
    assert len(sections) > 2 and all(s.headings == ("tickets",) for s in sections)
    assert sections[0].location.startswith("tickets, items 1–")
    assert sections[0].text.startswith("subject: Printer 1 on the third floor is jammed\n\nsubject: Printer 2")


def test_jsonl_is_bounded_by_max_rows_and_reports_lines_that_are_not_json(tmp_path):
    from application.ingest.parsers import ParseLimits

    path = tmp_path / "tickets.jsonl"
    lines = [json.dumps({"subject": f"Printer {n} jammed", "priority": n}) for n in range(1, 6)]
    path.write_text(lines[0] + "\nnot json at all\n" + "\n".join(lines[1:]) + "\n")
    document = parse_file(path, ParseLimits(max_rows=3))
    assert document.kind == "jsonl"
    assert document.sections[0].text == "subject: Printer 1 jammed\n\nsubject: Printer 2 jammed\n\nsubject: Printer 3 jammed"
    assert document.sections[0].location == "lines 1–4"
    assert document.warnings == ["line 2: not JSON, skipped",
                                 "2 more rows not read (row limit 3; raise INGEST_MAX_ROWS to read them)"]


def test_invalid_json_says_where(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"a": 1,\n "b": }')
    with pytest.raises(DocumentError, match=r"is not valid JSON \(line 2, column 7"):
        parse_file(path)


def test_utf16_text_with_a_byte_order_mark_is_decoded_not_taken_for_binary(tmp_path):
    path = tmp_path / "export.txt"
    path.write_bytes("Name\tCity\nZoë\tKöln\n".encode("utf-16"))
    assert parse_file(path).sections[0].text == "Name\tCity\nZoë\tKöln"


def test_rst_that_docutils_cannot_parse_is_still_cut_at_its_underlined_titles(tmp_path, monkeypatch):
    from application.ingest.formats import text

    def docutils_fails(source):
        raise RuntimeError("docutils could not parse this")

    monkeypatch.setattr(text, "_rst_with_docutils", docutils_fails)
    path = tmp_path / "notes.rst"
    path.write_text("Release notes\n=============\n\nIntro.\n\nFixes\n-----\n\nLogin works again.\n")
    document = parse_file(path)
    assert document.title == "Release notes"
    assert [(s.headings, s.text) for s in document.sections] == [((), "Intro."), (("Fixes",), "Login works again.")]


def test_html_data_tables_with_paragraphs_in_cells_stay_tables(tmp_path):
    path = tmp_path / "api.html"
    path.write_text("<h1>API</h1><table><thead><tr><th><p>Field</p></th><th><p>Meaning</p></th></tr></thead>"
                    "<tbody><tr><td><p>uri</p></td><td><p>where the document came from</p></td></tr></tbody></table>")
    [section] = parse_file(path).sections
    assert section.text == "| Field | Meaning |\n|---|---|\n| uri | where the document came from |"


def test_the_admin_pages_list_of_file_types_is_what_the_parsers_read():
    """The web UI takes its list from the description (its generated types: test_openapi_snapshot.py keeps
    them current), where the upload's schema lists SUPPORTED_EXTENSIONS."""
    import json
    from pathlib import Path

    from application.ingest.parsers import SUPPORTED_EXTENSIONS

    frontend = Path(__file__).resolve().parents[3] / "frontend"
    described = json.loads((frontend / "openapi.json").read_text())["components"]["schemas"]["UploadExtension"]
    assert described["enum"] == list(SUPPORTED_EXTENSIONS)
    assert "= UPLOAD_EXTENSIONS;" in (frontend / "src" / "admin" / "Documents.tsx").read_text()
