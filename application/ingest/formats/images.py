"""Images (a photo or scan of a page): read by tesseract. A multi-page TIFF is read page by page,
within the same OCR budget (pages, time) as a scanned PDF."""
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


def parse_image(path: Path, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

    from application.ingest.ocr import MAX_OCR_SIDE_PIXELS

    budget = OcrBudget(limits)
    if not budget.check_available():
        raise DocumentError(f"is an image and {budget.why_not}")
    document = ParsedDocument(title=path.stem, kind="image")
    try:
        with Image.open(path) as image:
            image.draft("L", (MAX_OCR_SIDE_PIXELS, MAX_OCR_SIDE_PIXELS))  # a huge JPEG is decoded smaller
            single = getattr(image, "n_frames", 1) == 1
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                # a phone photo is stored sideways, with an EXIF note saying how to turn it
                text = budget.read(number, lambda: ImageOps.exif_transpose(frame))
                if text and single:
                    document.sections.append(Section(text, location="image (OCR)"))
                elif text:
                    document.sections.append(Section(text, page=number, location=f"page {number} (OCR)"))
    except Image.DecompressionBombError as exc:
        raise DocumentError(f"is too large an image to read ({one_line(exc)[:160]})") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise DocumentError(f"is not a readable image ({one_line(exc)[:160] or exc.__class__.__name__})") from exc
    document.warnings = budget.warnings
    if not document.sections:
        reason = budget.reason_for_no_text()
        raise DocumentError(f"is an image and {'OCR found no text in it' if reason.startswith('OCR found') else reason}")
    return document
