"""Scans and images, read by the real tesseract (Debian's tesseract-ocr with English data)."""
import pytest

from application.ingest import ocr
from application.ingest.parsers import DocumentError, ParseLimits, parse_file
from tests.application.ingest.samples import make_mixed_pdf, make_scanned_pdf, make_text_image, render_text_image


@pytest.fixture
def without_tesseract(monkeypatch):
    """pytesseract pointed at a binary that does not exist: what a machine without tesseract-ocr sees."""
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")


def test_tesseract_reads_a_rendered_line_of_text():
    assert ocr.ocr_available()
    text = ocr.ocr_image(render_text_image(["Refunds take fourteen days"]), languages="eng", timeout=30)
    assert text == "Refunds take fourteen days"


def test_a_scanned_pdf_is_read_by_ocr_page_by_page(tmp_path):
    path = make_scanned_pdf(tmp_path / "invoice.pdf", ["Invoice number 4711", "Total due 120 EUR"])
    document = parse_file(path)
    assert document.kind == "pdf" and document.warnings == []
    [section] = document.sections
    assert (section.page, section.location) == (1, "page 1 (OCR)")
    assert "Invoice number 4711" in section.text and "Total due 120 EUR" in section.text


def test_only_pages_without_a_text_layer_are_ocrd(tmp_path):
    path = make_mixed_pdf(tmp_path / "report.pdf", ["Typed introduction page.", ["Signed contract page"]])
    document = parse_file(path)
    assert [(s.page, s.location) for s in document.sections] == [(1, None), (2, "page 2 (OCR)")]
    assert document.sections[0].text == "Typed introduction page."
    assert "Signed contract page" in document.sections[1].text


def test_pages_past_the_ocr_page_limit_are_named_in_a_warning(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf", pages=[["First scanned page"], ["Second page"], ["Third page"]])
    document = parse_file(path, ParseLimits(ocr_max_pages=1))
    assert [s.page for s in document.sections] == [1]
    assert "first scanned page" in document.sections[0].text.lower()  # tesseract may capitalise a word
    assert document.warnings == ["pages 2–3: scanned, not read (OCR page limit 1 reached)"]


def test_a_scan_past_the_ocr_time_limit_is_refused_with_the_reason(tmp_path):
    path = make_scanned_pdf(tmp_path / "scan.pdf", ["Slow scan"])
    with pytest.raises(DocumentError, match=r"is a scanned PDF and OCR ran out of time \(1e-06 s, OCR_TIMEOUT_SECONDS\)"):
        parse_file(path, ParseLimits(ocr_timeout_seconds=1e-6))


def test_without_tesseract_a_scanned_pdf_is_refused_never_silently_empty(tmp_path, without_tesseract):
    path = make_scanned_pdf(tmp_path / "scan.pdf", ["Anything"])
    assert not ocr.ocr_available()
    with pytest.raises(DocumentError) as raised:
        parse_file(path)
    assert str(raised.value) == ("is a scanned PDF and OCR is not available: install tesseract-ocr "
                                 "(apt-get install tesseract-ocr)")


def test_without_tesseract_the_text_pages_are_kept_and_each_scanned_page_is_a_warning(tmp_path, without_tesseract):
    path = make_mixed_pdf(tmp_path / "report.pdf", ["Typed page one.", ["scan"], "Typed page three.", ["scan"]])
    document = parse_file(path)
    assert [s.page for s in document.sections] == [1, 3]
    assert document.warnings == ["page 2: scanned, OCR not available (install tesseract-ocr)",
                                 "page 4: scanned, OCR not available (install tesseract-ocr)"]


def test_ocr_turned_off_or_a_missing_language_is_said_plainly(tmp_path):
    path = make_mixed_pdf(tmp_path / "report.pdf", ["Typed page.", ["scan"]])
    assert parse_file(path, ParseLimits(ocr=False)).warnings == ["page 2: scanned, not read (OCR is turned off)"]
    document = parse_file(path, ParseLimits(ocr_languages="eng+xyz"))
    assert document.warnings == ["page 2: scanned, OCR language 'xyz' not installed (install tesseract-ocr-xyz)"]


def test_a_blank_page_is_not_taken_for_a_scan(tmp_path, without_tesseract):
    from tests.conftest import make_pdf

    path = tmp_path / "blank.pdf"
    path.write_bytes(make_pdf(["Only page with text.", ""]))
    assert parse_file(path).warnings == []


def test_an_image_is_read_by_ocr(tmp_path):
    document = parse_file(make_text_image(tmp_path / "whiteboard.png", ["Standup at nine", "Room Blue"]))
    assert (document.kind, document.title) == ("image", "whiteboard")
    [section] = document.sections
    assert section.location == "image (OCR)"
    assert "Standup at nine" in section.text and "Room Blue" in section.text


def test_an_image_without_tesseract_or_with_ocr_off_is_refused(tmp_path, monkeypatch):
    path = make_text_image(tmp_path / "photo.jpg", ["Hello"])
    with pytest.raises(DocumentError, match=r"^is an image and OCR is turned off \(OCR_ENABLED=false\)$"):
        parse_file(path, ParseLimits(ocr=False))
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    with pytest.raises(DocumentError, match=r"^is an image and OCR is not available: install tesseract-ocr"):
        parse_file(path)


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    path = tmp_path / "fake.png"
    path.write_bytes(b"this is not a PNG")
    with pytest.raises(DocumentError, match="is not a readable image"):
        parse_file(path)


def test_tesseract_alone_runs_single_threaded_unless_the_operator_says_otherwise(monkeypatch):
    import os

    import pytesseract

    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    ocr.ocr_image(render_text_image(["x"]), timeout=30)
    environment = pytesseract.pytesseract.environ
    assert environment["OMP_THREAD_LIMIT"] == "1" and "OMP_THREAD_LIMIT" not in os.environ
    monkeypatch.setenv("OMP_THREAD_LIMIT", "4")
    assert environment["OMP_THREAD_LIMIT"] == "4"
