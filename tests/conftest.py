"""Fixtures shared by every test: temp data folders and a container (``DocsTune``) on the real bundled model.

The bundled all-MiniLM-L6-v2 is loaded once per test process (the plugin registry
caches one instance), so each test can build its own container cheaply.
"""
from __future__ import annotations

import itertools
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# DOCSTUNE_TEST_DATABASE=postgresql runs the tests on a throw-away PostgreSQL server (tests/pg_server.py)
# started when the session starts (if it cannot, the run stops with the reason: never a skip) and
# stopped when it ends. As with SQLite, where the database is a file in DATA_DIR, every DATA_DIR
# gets a database of its own: a fresh one for each test's folders (dropped after the test), one kept for
# the session for a folder that a session or module fixture set up. In this process, Settings resolves
# its DATABASE_URL that way; a child process (`docstune` commands, live servers) gets it in DATABASE_URL:
# the test's own DATA_DIR's database in the environment, or ``database_url_for(data_dir)``.
# Unset (or sqlite): nothing changes.
TEST_DATABASE = (os.environ.get("DOCSTUNE_TEST_DATABASE") or "sqlite").strip().lower()


class _SessionPostgres:
    """The session's server and the database of each DATA_DIR."""

    def __init__(self):
        self.server = None
        self.by_dir: dict[str, str] = {}  # resolved DATA_DIR -> database name
        self.urls: set[str] = set()  # every URL handed out (a Settings holding one maps its DATA_DIR)
        self.test_owned: list[str] | None = None  # created during the current test: dropped after it
        self._names = itertools.count(1)

    def get(self):
        if self.server is None:
            from tests.pg_server import PostgresServer, PostgresUnavailable

            try:
                self.server = PostgresServer().start()
            except PostgresUnavailable as exc:
                # never a skip: a PostgreSQL run that cannot reach PostgreSQL must not pass
                pytest.exit(f"DOCSTUNE_TEST_DATABASE=postgresql, but no PostgreSQL server could be started: {exc}",
                            returncode=3)
        return self.server

    def url_for(self, data_dir) -> str:
        key = str(Path(data_dir).resolve())
        name = self.by_dir.get(key)
        if name is None:
            name = f"docstune_test_{os.getpid()}_{next(self._names)}"
            self.get().create_database(name)
            self.by_dir[key] = name
            if self.test_owned is not None:
                self.test_owned.append(key)
        url = self.server.url(name)
        self.urls.add(url)
        return url

    def drop_test_databases(self) -> None:
        owned, self.test_owned = self.test_owned or [], None
        for key in owned:
            self.server.drop_database(self.by_dir.pop(key))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


_postgres = _SessionPostgres()
PLACEHOLDER_URL = "postgresql+psycopg://docstune@127.0.0.1:9/each-data-dir-has-its-own-database"


def database_url_for(data_dir) -> str | None:
    """PostgreSQL runs: the URL of DATA_DIR's database (created on first use); SQLite runs: None."""
    return _postgres.url_for(data_dir) if TEST_DATABASE == "postgresql" else None


def pytest_configure(config):
    if TEST_DATABASE not in ("sqlite", "postgresql"):
        raise pytest.UsageError(f"DOCSTUNE_TEST_DATABASE={TEST_DATABASE!r}: use sqlite (the default) or postgresql")
    if TEST_DATABASE == "postgresql":
        from application.settings import Settings

        # outside a test (session fixtures), a placeholder that only this process resolves: a child
        # process that was not given its DATA_DIR's URL fails to connect, loudly, instead of using SQLite
        os.environ["DATABASE_URL"] = PLACEHOLDER_URL
        _postgres.urls.add(PLACEHOLDER_URL)
        resolve = Settings.database_url_resolved

        def database_url_resolved(settings) -> str:
            if settings.database_url not in _postgres.urls:
                return resolve.fget(settings)  # a test that names its database, or sets none, gets that
            return _postgres.url_for(settings.data_dir)

        Settings.database_url_resolved = property(database_url_resolved)


def pytest_sessionstart(session):
    if TEST_DATABASE == "postgresql":
        _postgres.get()  # now, so that a run without a server stops before its first test


def pytest_unconfigure(config):
    _postgres.stop()


def pytest_report_header(config):
    return f"DocsTune test database: {TEST_DATABASE} (DOCSTUNE_TEST_DATABASE)"


@pytest.fixture(autouse=True)
def test_database_url(request):
    """PostgreSQL runs: the URL of this test's database (that of ``tmp_path / "data"``, the DATA_DIR of
    ``make_settings``), also in DATABASE_URL for child processes; SQLite runs: None."""
    if TEST_DATABASE != "postgresql":
        yield None
        return
    monkeypatch = request.getfixturevalue("monkeypatch")
    _postgres.test_owned = []
    try:
        url = _postgres.url_for(request.getfixturevalue("tmp_path") / "data")
        monkeypatch.setenv("DATABASE_URL", url)
        yield url
    finally:
        _postgres.drop_test_databases()


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


@contextmanager
def app_factory(services, settings_for):
    """``make(**overrides)`` builds a cheap test app (TESTING on) around one shared container with
    ``settings_for(**overrides)``; every app it built is closed when the block ends."""
    from application import create_app
    from application.api import close_app

    apps = []

    def make(**overrides):
        app = create_app(settings_for(**overrides), services=services)
        app.config["TESTING"] = True
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            close_app(app)


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
    from application.container import DocsTune

    built = DocsTune(make_settings())
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
