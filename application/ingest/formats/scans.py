"""The OCR budget of one document: scanned PDF pages and image frames are read by tesseract
(``application.ingest.ocr``) until the document's page or time limit is reached; every page that was
not read is remembered, for one warning line per run of pages and, if nothing was read at all, the
reason the whole document is refused."""
from __future__ import annotations

import time
from typing import Callable

from application.ingest.formats.base import ParseLimits


class OcrBudget:
    """Reads pages by OCR within ``limits`` (OCR_MAX_PAGES pages, OCR_TIMEOUT_SECONDS in all).

    >>> budget = OcrBudget(limits)
    >>> text = budget.read(3, lambda: render_page(3))   # None when page 3 was not read
    >>> budget.warnings                                   # ["page 4: scanned, not read (OCR page limit 3 reached)"]
    """

    def __init__(self, limits: ParseLimits):
        self.limits = limits
        self.read_pages = 0
        self.skipped: list[tuple[int, str]] = []
        self.why_not: str | None = None  # the first reason a page was not read, as a document's reason
        self._deadline = time.monotonic() + limits.ocr_timeout_seconds

    def check_available(self) -> bool:
        """False (and the reason kept) when OCR is off or tesseract or a language is missing."""
        from application.ingest.ocr import OcrUnavailable, check_ocr

        if not self.limits.ocr:
            self.why_not, self._tail = "OCR is turned off (OCR_ENABLED=false)", "not read (OCR is turned off)"
            return False
        try:
            check_ocr(self.limits.ocr_languages)
        except OcrUnavailable as exc:
            self.why_not, self._tail = exc.reason, str(exc)
            return False
        return True

    def skip_all(self, numbers) -> None:
        """Record pages as not read for the reason ``check_available`` found."""
        self.skipped.extend((number, self._tail) for number in numbers)

    def read(self, number: int, render: Callable[[], object]) -> str | None:
        """The OCR text of page ``number`` ('' when it has none), or None when it was not read."""
        from application.ingest.ocr import OcrError, OcrTimeout, ocr_image

        limits = self.limits
        if self.read_pages >= limits.ocr_max_pages:
            return self._skip(number, f"not read (OCR page limit {limits.ocr_max_pages} reached)",
                              f"OCR stopped at its page limit ({limits.ocr_max_pages}, OCR_MAX_PAGES)")
        time_limit = f"not read (OCR time limit {limits.ocr_timeout_seconds:g} s reached)"
        ran_out = f"OCR ran out of time ({limits.ocr_timeout_seconds:g} s, OCR_TIMEOUT_SECONDS)"
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return self._skip(number, time_limit, ran_out)
        try:
            text = ocr_image(render(), languages=limits.ocr_languages, timeout=remaining)
        except OcrTimeout:
            return self._skip(number, time_limit, ran_out)
        except OcrError as exc:
            return self._skip(number, str(exc), str(exc))
        self.read_pages += 1
        return text

    def _skip(self, number: int, tail: str, why: str) -> None:
        self.skipped.append((number, tail))
        self.why_not = self.why_not or why
        return None

    @property
    def warnings(self) -> list[str]:
        return page_warnings(self.skipped)

    def reason_for_no_text(self) -> str:
        """Why a document whose scanned pages gave no text has none: to follow "is a scanned PDF and "."""
        if self.read_pages:
            return "OCR found no text on it" + (f" ({self.why_not} after {self.read_pages} pages)"
                                                if self.why_not else "")
        return self.why_not or "OCR found no text on it"


def page_warnings(skipped: list[tuple[int, str]]) -> list[str]:
    """``page 7: scanned, <why>`` lines; consecutive pages for the same reason share one
    (``pages 51–80: scanned, not read (OCR page limit 50 reached)``)."""
    runs: list[list] = []  # [first, last, why]
    for number, why in skipped:
        if runs and runs[-1][2] == why and runs[-1][1] == number - 1:
            runs[-1][1] = number
        else:
            runs.append([number, number, why])
    return [f"{f'page {first}' if first == last else f'pages {first}–{last}'}: scanned, {why}"
            for first, last, why in runs]
