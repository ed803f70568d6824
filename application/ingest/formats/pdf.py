"""PDF: pypdf reads the text layer page by page; a page without one but with an image (a scan) is
rendered by pypdfium2 and read by tesseract, within the document's OCR budget (``scans.OcrBudget``).
Every scanned page that could not be read is named in a warning; a PDF with no text at all is refused
with the reason (OCR missing, turned off, out of time), never ingested as empty."""
from __future__ import annotations

from pathlib import Path

from application.ingest.formats.base import (
    DEFAULT_LIMITS,
    DocumentError,
    ParsedDocument,
    ParseLimits,
    Section,
    one_line,
)
from application.ingest.formats.scans import OcrBudget


def parse_pdf(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    sections: list[Section] = []
    scanned: list[int] = []
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            # many PDFs are "encrypted" with an empty user password only
            try:
                unlocked = reader.decrypt("")
            except Exception:  # noqa: BLE001  (pypdf raises several types for an unsupported cipher)
                unlocked = 0
            if not unlocked:
                raise DocumentError("is an encrypted PDF; save a decrypted copy and ingest that")
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            if text:
                sections.append(Section(text, page=number))
            elif _has_images(page):
                scanned.append(number)
        metadata_title = (reader.metadata.title if reader.metadata else None) or ""
    except DocumentError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise DocumentError(f"is not a readable PDF ({exc.__class__.__name__}: {one_line(exc)})") from exc
    document = ParsedDocument(title=one_line(metadata_title) or path.stem, kind="pdf", sections=sections)
    if scanned:
        budget = OcrBudget(limits)
        read = ocr_pdf_pages(path, scanned, budget)
        document.sections = sorted(sections + read, key=lambda section: section.page)
        document.warnings = budget.warnings
        if not document.sections:
            raise DocumentError(f"is a scanned PDF and {budget.reason_for_no_text()}")
    if not document.sections:
        raise DocumentError("has no text (no page has a text layer or a scanned image)")
    return document


def _has_images(page) -> bool:
    """A page without text is worth OCR only if it shows an image; a blank page is not a scan."""
    try:
        return len(page.images) > 0
    except Exception:  # noqa: BLE001  (an unreadable image list: let OCR try)
        return True


def ocr_pdf_pages(path: Path, pages: list[int], budget: OcrBudget) -> list[Section]:
    """The OCR sections of the given (1-based) pages; the pages not read are left in ``budget``."""
    if not budget.check_available():
        budget.skip_all(pages)
        return []
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        budget.why_not = "its pages could not be rendered for OCR"
        budget.skipped.extend((number, f"not rendered ({one_line(exc)[:120]})") for number in pages)
        return []
    sections = []
    try:
        for number in pages:
            text = budget.read(number, lambda: _render(pdf, number))
            if text:
                sections.append(Section(text, page=number, location=f"page {number} (OCR)"))
    finally:
        pdf.close()
    return sections


def _render(pdf, number: int):
    from application.ingest.ocr import MAX_OCR_SIDE_PIXELS, OCR_DPI, OcrError

    try:
        page = pdf[number - 1]
        width, height = page.get_size()
        # OCR_DPI, but never a bitmap past MAX_OCR_SIDE_PIXELS (a poster-sized page would exhaust memory)
        scale = min(OCR_DPI / 72, MAX_OCR_SIDE_PIXELS / max(width, height, 1))
        return page.render(scale=scale, grayscale=True).to_pil()
    except Exception as exc:  # noqa: BLE001  (pdfium's errors on one broken page)
        raise OcrError(f"could not be rendered ({one_line(exc)[:120]})") from exc
