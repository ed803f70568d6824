"""Office, spreadsheet, e-book, notebook and data formats, parsed from real files the tests write."""
import time

import pytest

from application.ingest.parsers import DocumentError, ParseLimits, parse_file
from tests.application.ingest.samples import (
    Bullets,
    Table,
    make_csv,
    make_docx,
    make_epub,
    make_ipynb,
    make_ole_file,
    make_pptx,
    make_xlsx,
    make_zip_bomb,
)


# --- .docx ----------------------------------------------------------------------------------------


def test_docx_headings_become_sections_with_their_heading_path(tmp_path):
    path = make_docx(tmp_path / "handbook.docx", title="Handbook", sections=[
        (None, ["Welcome to the handbook."]),
        ("Refunds", ["Refunds take 14 days.", Table([["Item", "Days"], ["Shoes", "30"]])]),
        ((2, "Exceptions"), ["Sale items are final.", Bullets(["Gift cards", "Downloads"])]),
        ("Shipping", ["Parcels ship within two days."]),
    ])
    document = parse_file(path)
    assert (document.title, document.kind) == ("Handbook", "docx")
    by_path = {section.headings: section.text for section in document.sections}
    assert by_path[()] == "Welcome to the handbook."
    assert "Refunds take 14 days." in by_path[("Refunds",)]
    assert "| Shoes | 30 |" in by_path[("Refunds",)] and "| Item | Days |" in by_path[("Refunds",)]
    assert by_path[("Refunds", "Exceptions")] == "Sale items are final.\n\n- Gift cards\n- Downloads"
    assert by_path[("Shipping",)] == "Parcels ship within two days."


def test_docx_without_a_title_is_named_by_its_first_heading(tmp_path):
    path = make_docx(tmp_path / "notes.docx", title=None,
                     sections=[("Onboarding", ["Day one: laptop."]), ((2, "Accounts"), ["Ask IT."])])
    document = parse_file(path)
    assert document.title == "Onboarding"
    assert [s.headings for s in document.sections] == [(), ("Accounts",)]


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx"])
def test_an_encrypted_office_file_says_to_save_it_unencrypted(tmp_path, suffix):
    with pytest.raises(DocumentError, match=rf"is encrypted or not an Office Open XML file; save an unencrypted \{suffix}"):
        parse_file(make_ole_file(tmp_path / f"locked{suffix}"))


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx", ".epub"])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path, suffix):
    path = make_zip_bomb(tmp_path / f"bomb{suffix}", unpacked_bytes=20 << 20)
    with pytest.raises(DocumentError, match="refused as a possible zip bomb"):
        parse_file(path)


def test_an_office_file_past_the_unpacked_size_limit_is_refused(tmp_path):
    path = make_docx(tmp_path / "big.docx", sections=[("Refunds", ["Fourteen days."])])
    with pytest.raises(DocumentError, match=r"unpacks to .* \(limit 20 KB\): refused as a possible zip bomb"):
        parse_file(path, ParseLimits(max_unpacked_bytes=20 << 10))


@pytest.mark.parametrize("content, reason", [
    (b"PK\x03\x04 truncated archive" * 4, r"is not a readable \.docx \(File is not a zip file\)"),
    (b"just some text", r"is not a readable \.docx"),
])
def test_a_corrupt_docx_gives_one_readable_line(tmp_path, content, reason):
    path = tmp_path / "broken.docx"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=reason) as raised:
        parse_file(path)
    assert "\n" not in str(raised.value)


def test_a_zip_that_is_not_a_docx_names_what_is_missing(tmp_path):
    import zipfile

    path = tmp_path / "renamed.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a Word document")
    with pytest.raises(DocumentError, match=r"is not a readable \.docx \(There is no item named '\[Content_Types\]\.xml'"):
        parse_file(path)


# --- .pptx ----------------------------------------------------------------------------------------


def test_pptx_has_a_section_per_slide_with_its_title_and_speaker_notes(tmp_path):
    path = make_pptx(tmp_path / "q3.pptx", title="Quarterly review", slides=[
        ("Q3 results", ["Revenue grew ten percent", Table([["Region", "Growth"], ["North", "12%"]])],
         "Mention the new office in Leeds"),
        ("Next steps", ["Hire two engineers"], None),
    ])
    document = parse_file(path)
    assert (document.title, document.kind) == ("Quarterly review", "pptx")
    first, second = document.sections
    assert (first.headings, first.location) == (("Q3 results",), "slide 1")
    assert "Revenue grew ten percent" in first.text and "| North | 12% |" in first.text
    assert first.text.endswith("Speaker notes: Mention the new office in Leeds")
    assert (second.headings, second.location, second.text) == (("Next steps",), "slide 2", "Hire two engineers")


# --- .xlsx / .csv ---------------------------------------------------------------------------------


def test_xlsx_rows_become_records_named_by_the_header_and_located_by_sheet_and_rows(tmp_path):
    path = make_xlsx(tmp_path / "sales.xlsx", {
        "Sales": [["Region", "Amount", "Note"], ["North", 100, "steady"], ["South", 2.5, None]],
        "Staff": [["Name", "Role"], ["Ada", "Engineer"]],
    })
    document = parse_file(path)
    assert document.kind == "xlsx"
    sales, staff = document.sections
    assert sales.text == "Region: North; Amount: 100; Note: steady\nRegion: South; Amount: 2.5"
    assert (sales.headings, sales.location) == (("Sales",), "sheet Sales, rows 2–3")
    assert (staff.text, staff.location) == ("Name: Ada; Role: Engineer", "sheet Staff, row 2")


def test_xlsx_reads_at_most_max_rows_and_says_how_many_were_left(tmp_path):
    rows = [["Name", "City"]] + [[f"person {i}", "Leeds"] for i in range(1, 6)]
    document = parse_file(make_xlsx(tmp_path / "people.xlsx", {"People": rows}), ParseLimits(max_rows=3))
    records = "\n".join(section.text for section in document.sections).splitlines()
    assert records == ["Name: person 1; City: Leeds", "Name: person 2; City: Leeds", "Name: person 3; City: Leeds"]
    assert document.warnings == ["sheet People: 2 more rows not read (row limit 3; raise INGEST_MAX_ROWS to read them)"]


def test_long_sheets_are_cut_into_row_groups_of_a_few_kilobytes(tmp_path):
    rows = [["Ticket", "Summary"]] + [[n, f"Printer on floor {n} is out of toner again"] for n in range(1, 401)]
    document = parse_file(make_xlsx(tmp_path / "tickets.xlsx", {"Tickets": rows}))
    assert len(document.sections) > 5
    assert all(len(section.text) < 4000 for section in document.sections)
    assert document.sections[0].location.startswith("sheet Tickets, rows 2–")
    assert document.sections[-1].location.endswith("–401")


def test_csv_is_streamed_and_bounded_by_max_rows(tmp_path):
    path = tmp_path / "events.csv"
    with path.open("w") as fh:
        fh.write("id,event,city\n")
        fh.writelines(f"{n},signup,city {n % 50}\n" for n in range(200_000))
    started = time.perf_counter()
    document = parse_file(path, ParseLimits(max_rows=5_000))
    assert time.perf_counter() - started < 2
    records = [line for section in document.sections for line in section.text.splitlines()]
    assert len(records) == 5_000 and records[0] == "id: 0; event: signup; city: city 0"
    assert document.sections[0].location.startswith("rows 2–")
    assert document.warnings == ["195,000 more rows not read (row limit 5,000; raise INGEST_MAX_ROWS to read them)"]


def test_csv_in_a_windows_code_page_with_semicolons_is_read(tmp_path):
    path = make_csv(tmp_path / "prices.csv", [["Produkt", "Preis"], ["Käse", "3,50 €"], ["Brötchen", "0,40 €"]],
                    delimiter=";", encoding="cp1252")
    document = parse_file(path)
    assert document.sections[0].text == "Produkt: Käse; Preis: 3,50 €\nProdukt: Brötchen; Preis: 0,40 €"


def test_csv_without_a_header_names_columns_by_position(tmp_path):
    document = parse_file(make_csv(tmp_path / "numbers.csv", [[1, 2], [3, 4]]))
    assert document.sections[0].text == "column 1: 1; column 2: 2\ncolumn 1: 3; column 2: 4"


# --- .epub ----------------------------------------------------------------------------------------


def test_epub_chapters_come_in_spine_order_located_by_chapter(tmp_path):
    path = make_epub(tmp_path / "guide.epub", title="Admin Guide", chapters=[
        ("Setup", "<p>Install the <b>server</b> package.</p><h2>On Debian</h2><p>Use apt-get.</p>"),
        ("Usage", "<ul><li>Start it</li><li>Stop it</li></ul>"),
    ])
    document = parse_file(path)
    assert (document.title, document.kind) == ("Admin Guide", "epub")
    assert [(s.headings, s.location, s.text) for s in document.sections] == [
        (("Setup",), "chapter 1: Setup", "Install the server package."),
        (("Setup", "On Debian"), "chapter 1: Setup", "Use apt-get."),
        (("Usage",), "chapter 2: Usage", "- Start it\n- Stop it"),
    ]


# --- .ipynb ---------------------------------------------------------------------------------------


def test_notebook_cells_are_grouped_under_markdown_headings_and_outputs_never_appear(tmp_path):
    path = make_ipynb(tmp_path / "analysis.ipynb", [
        ("markdown", "# Churn analysis\nWe look at churn."),
        ("code", "df = load('churn.csv')", "OUTPUT-ONLY-4711"),
        ("markdown", "## Cleaning"),
        ("code", "df = df.dropna()"),
        ("markdown", "Rows without a plan are dropped."),
    ])
    document = parse_file(path)
    assert (document.title, document.kind) == ("Churn analysis", "ipynb")
    assert [(s.headings, s.location) for s in document.sections] == [((), "cells 1–2"), (("Cleaning",), "cells 4–5")]
    assert "```python\ndf = load('churn.csv')\n```" in document.sections[0].text
    assert "Rows without a plan are dropped." in document.sections[1].text
    assert all("OUTPUT-ONLY-4711" not in s.text for s in document.sections)


def test_a_notebook_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("this is { not json")
    with pytest.raises(DocumentError, match=r"^is not a Jupyter notebook \(not JSON\)$"):
        parse_file(path)
