"""Fixtures shared by every test: temp data folders and a Services on the real bundled model.

The bundled all-MiniLM-L6-v2 is loaded once per test process (the plugin registry
caches one instance), so each test can build its own Services cheaply.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DOCS = {
    "refunds.md": (
        "# Refund policy\n\nCustomers can ask for a full refund within 30 days of purchase. "
        "Refunds are paid back to the original card within five business days.\n\n"
        "## Exceptions\n\nGift cards and downloadable software cannot be refunded once used.\n"
    ),
    "shipping.txt": (
        "Shipping times\n\nWe ship worldwide. Orders inside the EU arrive in 2 to 4 business days; "
        "orders to the United States take 5 to 8 business days. Express shipping costs 15 euros."
    ),
    "office.html": (
        "<html><head><title>Office life</title><style>body{color:red}</style></head><body>"
        "<h1>Office life</h1><p>The office cat is called Miso. She sleeps on keyboards.</p>"
        "<script>alert('x')</script><p>Lunch is served at noon on the roof terrace.</p></body></html>"
    ),
}


def write_docs(folder: Path, docs: dict[str, str] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def make_settings(tmp_path):
    from application.settings import Settings

    def make(**overrides):
        values = {"DATA_DIR": tmp_path / "data"}
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def services(make_settings):
    from application.services import Services

    built = Services(make_settings())
    yield built
    built.close()


@pytest.fixture
def docs_dir(tmp_path) -> Path:
    return write_docs(tmp_path / "docs")


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (no PDF library writes text)."""
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{' '.join(f'{i} 0 R' for i in page_ids)}] /Count {len(pages)} >>".encode())
    for page_id, text in zip(page_ids, pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_id + 1} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_encrypted_pdf(folder: Path, text: str = "Secret numbers.") -> Path:
    """A PDF locked with a user password (so it cannot be read without it)."""
    from pypdf import PdfReader, PdfWriter

    plain = folder / "plain-for-encryption.pdf"
    plain.write_bytes(make_pdf([text]))
    writer = PdfWriter()
    writer.append(PdfReader(str(plain)))
    writer.encrypt(user_password="hunter2", owner_password="owner")
    locked = folder / "locked.pdf"
    with locked.open("wb") as fh:
        writer.write(fh)
    plain.unlink()
    return locked
