"""Optical character recognition of scanned pages and images, by tesseract (through pytesseract).

tesseract is a system program (Debian: ``apt-get install tesseract-ocr``; more languages as
``tesseract-ocr-deu``, ...). When it or a language is missing, ``ocr_image`` raises ``OcrUnavailable``
whose message says what to install; the parsers turn that into a warning per page, and refuse a
document that has no other text, so a scan is never ingested as silently empty.

    >>> from PIL import Image
    >>> text = ocr_image(Image.open("scan.png"), languages="eng", timeout=30)
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

# Scanned pages are rendered at the resolution tesseract is tuned for.
OCR_DPI = 300
# Larger images are scaled down first: beyond this, tesseract gets slow without reading better.
MAX_OCR_SIDE_PIXELS = 5000


class OcrError(Exception):
    """A page or image could not be read by OCR; the message says why."""


class OcrUnavailable(OcrError):
    """tesseract, or one of the requested languages, is not installed.

    ``str(exc)`` is the short form for a warning line ("OCR not available (install tesseract-ocr)");
    ``reason`` the sentence for a document that could not be read at all.
    """

    def __init__(self, short: str, reason: str):
        super().__init__(short)
        self.reason = reason


class OcrTimeout(OcrError):
    """tesseract took longer than the time it was given."""


class _TesseractEnvironment(Mapping):
    """The process environment as tesseract sees it: ``os.environ``, read live, with OMP_THREAD_LIMIT=1
    unless the operator set it. tesseract's OpenMP threads fight over the cores: on a busy 2-core host a
    full 300-dpi page took 12 s with them and 2.4 s without (as in tesseract-ocr/tesseract#3109).
    Only tesseract gets it: in this process it would also throttle PyTorch's OpenMP threads."""

    def __getitem__(self, key: str) -> str:
        if key == "OMP_THREAD_LIMIT" and key not in os.environ:
            return "1"
        return os.environ[key]

    def __iter__(self):
        yield from os.environ
        if "OMP_THREAD_LIMIT" not in os.environ:
            yield "OMP_THREAD_LIMIT"

    def __len__(self) -> int:
        return len(os.environ) + ("OMP_THREAD_LIMIT" not in os.environ)


def _use_single_threaded_tesseract() -> None:
    # pytesseract hands its module-level ``environ`` (os.environ) to every tesseract it starts
    import pytesseract.pytesseract as wrapper

    if not isinstance(wrapper.environ, _TesseractEnvironment):
        wrapper.environ = _TesseractEnvironment()


def _not_installed() -> OcrUnavailable:
    return OcrUnavailable("OCR not available (install tesseract-ocr)",
                          "OCR is not available: install tesseract-ocr (apt-get install tesseract-ocr)")


def _tesseract_cmd() -> str:
    import pytesseract

    return pytesseract.pytesseract.tesseract_cmd


_languages_by_cmd: dict[str, frozenset[str]] = {}


def _installed_languages(tesseract_cmd: str) -> frozenset[str] | None:
    """The languages this tesseract binary has data for; None if it cannot be run (not remembered, so
    installing tesseract takes effect without a restart)."""
    import pytesseract

    if tesseract_cmd not in _languages_by_cmd:
        try:
            _languages_by_cmd[tesseract_cmd] = frozenset(pytesseract.get_languages(config=""))
        except (pytesseract.TesseractNotFoundError, pytesseract.TesseractError, OSError):
            return None
    return _languages_by_cmd[tesseract_cmd]


def check_ocr(languages: str = "eng") -> None:
    """Raise OcrUnavailable unless tesseract runs and has every language of ``eng+deu``-style ``languages``."""
    tesseract_cmd = _tesseract_cmd()
    if shutil.which(tesseract_cmd) is None:
        raise _not_installed()
    installed = _installed_languages(tesseract_cmd)
    if installed is None:
        raise _not_installed()
    for language in languages.split("+"):
        if language and language not in installed:
            package = "tesseract-ocr-" + language.lower().replace("_", "-")
            raise OcrUnavailable(f"OCR language {language!r} not installed (install {package})",
                                 f"OCR language {language!r} is not installed: apt-get install {package}")


def ocr_available(languages: str = "eng") -> bool:
    try:
        check_ocr(languages)
    except OcrUnavailable:
        return False
    return True


def prepare_for_ocr(image):
    """A grayscale image on white (a transparent PNG's background would turn black), at most
    MAX_OCR_SIDE_PIXELS on its long side."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("L")
    longest = max(image.size)
    if longest > MAX_OCR_SIDE_PIXELS:
        scale = MAX_OCR_SIDE_PIXELS / longest
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return image


def ocr_image(image, languages: str = "eng", timeout: float | None = None) -> str:
    """The text tesseract reads in a PIL image ('' when there is none).

    Raises OcrUnavailable (tesseract or a language missing), OcrTimeout (past ``timeout`` seconds),
    or OcrError (tesseract failed on this image).
    """
    import pytesseract

    check_ocr(languages)
    _use_single_threaded_tesseract()
    try:
        # pytesseract treats timeout=0 as "no limit"; the caller's deadline is never that
        text = pytesseract.image_to_string(prepare_for_ocr(image), lang=languages,
                                           timeout=max(timeout, 0.1) if timeout is not None else 0)
    except pytesseract.TesseractNotFoundError:
        raise _not_installed() from None
    except pytesseract.TesseractError as exc:  # a RuntimeError too: caught first
        raise OcrError(f"OCR failed ({' '.join(str(exc).split())[:200]})") from exc
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():  # pytesseract's only signal of its timeout
            raise OcrTimeout(f"OCR took longer than {timeout:g} s") from exc
        raise
    return clean_ocr_text(text)


def clean_ocr_text(text: str) -> str:
    """tesseract's output without trailing spaces, form feeds and runs of blank lines."""
    lines = [line.rstrip() for line in text.replace("\f", "\n").splitlines()]
    cleaned: list[str] = []
    for line in lines:
        if line or (cleaned and cleaned[-1]):
            cleaned.append(line)
    return "\n".join(cleaned).strip()
